"""Nonsense configurations get clear messages, wherever they come from."""

from decimal import Decimal as D

import pytest
from django.core.exceptions import ValidationError

from loyalty.models import Campaign
from loyalty.program import TierSpec, campaign_configure, program_configure

pytestmark = pytest.mark.django_db


def messages(exc):
    return " ".join(exc.value.messages)


def test_percentage_outside_0_100(merchant):
    with pytest.raises(ValidationError) as exc:
        program_configure(merchant=merchant, tiers=[TierSpec("A", D(101), D(10))])
    assert "between 0 and 100" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        program_configure(
            merchant=merchant, tiers=[TierSpec("A", D(3), D(10))], referral_level1_percent=D(-1)
        )
    assert "referral_level1_percent" in exc.value.message_dict


def test_redemption_cap_above_100(merchant):
    with pytest.raises(ValidationError) as exc:
        program_configure(merchant=merchant, tiers=[TierSpec("A", D(3), D("100.5"))])
    assert "redemption cap must be between 0 and 100" in messages(exc)


def test_decreasing_cashback_and_threshold(merchant):
    with pytest.raises(ValidationError) as exc:
        program_configure(
            merchant=merchant,
            tiers=[TierSpec("Gold", D(5), D(10), D(0)), TierSpec("Silver", D(3), D(10), D(100))],
        )
    assert "“Silver” has less cashback (3%) than the tier below it, “Gold”" in messages(exc)
    with pytest.raises(ValidationError) as exc:
        program_configure(
            merchant=merchant,
            tiers=[
                TierSpec("A", D(3), D(10), D(0)),
                TierSpec("B", D(5), D(10), D(5000)),
                TierSpec("C", D(7), D(10), D(1000)),
            ],
        )
    assert "Thresholds must not decrease" in messages(exc)
    # Nothing was stored by the failed attempts.
    assert merchant.program.tiers.count() == 0


def test_referral_levels_need_lower_levels(merchant):
    with pytest.raises(ValidationError) as exc:
        program_configure(merchant=merchant, tiers=[], referral_level2_percent=D(1))
    assert "Set level 1" in messages(exc)


def base_campaign(**overrides):
    fields = {
        "reward_form": "certificate",
        "reward_points": D(100),
        "certificate_valid_days": 10,
        "redemption_cap_percent": D(20),
        "days_before": 5,
    }
    fields.update(overrides)
    return fields


def test_certificate_valid_zero_days(merchant):
    with pytest.raises(ValidationError) as exc:
        campaign_configure(
            merchant=merchant, kind="birthday", name="B", **base_campaign(certificate_valid_days=0)
        )
    assert "certificate_valid_days" in exc.value.message_dict


def test_birthday_lead_longer_than_a_year(merchant):
    with pytest.raises(ValidationError) as exc:
        campaign_configure(
            merchant=merchant, kind="birthday", name="B", **base_campaign(days_before=400)
        )
    assert "days_before" in exc.value.message_dict


def test_kind_parameters_required(merchant):
    with pytest.raises(ValidationError) as exc:
        campaign_configure(
            merchant=merchant, kind="winback", name="W", **base_campaign(days_before=None)
        )
    assert "days_after_last_purchase" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        campaign_configure(
            merchant=merchant,
            kind="check_growth",
            name="G",
            **base_campaign(redemption_cap_percent=D(120)),
        )
    assert set(exc.value.message_dict) >= {"min_check_amount", "redemption_cap_percent"}
    assert Campaign.objects.count() == 0


def test_valid_program_saves(merchant):
    program = program_configure(
        merchant=merchant,
        welcome_points=D(500),
        tiers=[TierSpec("A", D(1), D(10), D(0)), TierSpec("B", D(1), D(20), D(100))],
    )
    assert [t.position for t in program.tiers.all()] == [1, 2]
