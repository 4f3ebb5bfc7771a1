"""Program configuration rules: the tier ladder and saving a whole program at once.

Admin forms, the demo and tests all configure programs through these functions, so a
nonsense configuration gets the same message wherever it comes from."""

from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from onboarding.models import Merchant

from .models import Campaign, Program, Tier


@dataclass(frozen=True)
class TierSpec:
    name: str
    cashback_percent: Decimal
    max_redemption_percent: Decimal
    spend_threshold: Decimal = Decimal(0)


def validate_tier_ladder(tiers: list) -> list[str]:
    """Messages for a ladder (ordered by position) whose cashback or threshold decreases.

    `tiers` are objects with name, cashback_percent, max_redemption_percent, spend_threshold.
    """
    errors = []
    for tier in tiers:
        for field, label in (
            ("cashback_percent", _("cashback")),
            ("max_redemption_percent", _("redemption cap")),
        ):
            value = getattr(tier, field)
            if value is not None and not (0 <= value <= 100):
                errors.append(
                    _("Tier “%(tier)s”: %(what)s must be between 0 and 100%%.")
                    % {"tier": tier.name, "what": label}
                )
    for lower, higher in zip(tiers, tiers[1:], strict=False):
        if higher.cashback_percent < lower.cashback_percent:
            errors.append(
                _(
                    "Tier “%(higher)s” has less cashback (%(h)s%%) than the tier below it, “%(lower)s” "
                    "(%(l)s%%). Cashback must not decrease up the ladder."
                )
                % {
                    "higher": higher.name,
                    "lower": lower.name,
                    "h": higher.cashback_percent,
                    "l": lower.cashback_percent,
                }
            )
        if higher.spend_threshold < lower.spend_threshold:
            errors.append(
                _(
                    "Tier “%(higher)s” needs a lower spend (%(h)s) than the tier below it, “%(lower)s” "
                    "(%(l)s). Thresholds must not decrease up the ladder."
                )
                % {
                    "higher": higher.name,
                    "lower": lower.name,
                    "h": higher.spend_threshold,
                    "l": lower.spend_threshold,
                }
            )
    if tiers and tiers[0].spend_threshold:
        errors.append(_("The first tier is the entry tier: its spend threshold must be 0."))
    return errors


def program_for(merchant: Merchant) -> Program:
    """The merchant's program, created empty on first use."""
    program, _created = Program.objects.get_or_create(merchant=merchant)
    return program


@transaction.atomic
def program_configure(*, merchant: Merchant, tiers: list[TierSpec], **fields) -> Program:
    """Replace the merchant's program settings and tier ladder; raise ValidationError on nonsense."""
    program = program_for(merchant)
    for name, value in fields.items():
        setattr(program, name, value)
    program.full_clean()
    errors = validate_tier_ladder(tiers)
    if errors:
        raise ValidationError(errors)
    program.save()
    existing = {t.position: t for t in program.tiers.all()}
    for position, spec in enumerate(tiers, start=1):
        tier = existing.pop(position, None) or Tier(program=program, position=position)
        tier.name = spec.name
        tier.cashback_percent = Decimal(spec.cashback_percent)
        tier.max_redemption_percent = Decimal(spec.max_redemption_percent)
        tier.spend_threshold = Decimal(spec.spend_threshold)
        tier.full_clean()
        tier.save()
    for stale in existing.values():
        stale.delete()
    return program


@transaction.atomic
def campaign_configure(*, merchant: Merchant, kind: str, name: str, **fields) -> Campaign:
    """Create or update the merchant's campaign of this kind and name (validated)."""
    campaign = Campaign.objects.filter(merchant=merchant, kind=kind, name=name).first()
    if campaign is None:
        campaign = Campaign(merchant=merchant, kind=kind, name=name)
    for field, value in fields.items():
        setattr(campaign, field, value)
    campaign.full_clean()
    campaign.save()
    return campaign
