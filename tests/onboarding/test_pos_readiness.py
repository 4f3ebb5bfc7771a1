"""POS readiness: each integration's checklist steps and the fact that verifies each one —
credentials saved, a signed test event received, the first real sale, the first refund."""

from decimal import Decimal

import pytest
from django.utils import timezone

from demo import reference
from loyalty.models import Purchase, Refund
from loyalty.pos.models import PosEvent
from onboarding.checklists import template_apply
from onboarding.facts import facts_for, facts_sync
from onboarding.models import ChecklistFact, ChecklistTemplate, MerchantTask, TaskStatus
from tests.factories import MerchantFactory, StaffMemberFactory, UserFactory

pytestmark = pytest.mark.django_db
F = ChecklistFact


@pytest.fixture
def template():
    return ChecklistTemplate.objects.get(is_default=True)


def _facts(merchant):
    return facts_for(merchants=[merchant])[merchant.pk]


def _sale(merchant, source, external_id="s1"):
    return Purchase.objects.create(
        merchant=merchant, source=source, external_id=external_id, amount=Decimal(500),
        paid_money=Decimal(500), occurred_at=timezone.now(),
    )  # fmt: skip


def _refund(purchase):
    return Refund.objects.create(
        merchant_id=purchase.merchant_id, purchase=purchase, amount=Decimal(100),
        occurred_at=timezone.now(),
    )  # fmt: skip


@pytest.mark.parametrize("integration", ["evotor", "poster", "none"])
def test_checklist_gets_only_the_merchants_integration_steps(template, integration):
    merchant = MerchantFactory(pos_integration=integration)
    template_apply(merchant=merchant, template=template)
    steps = {t for i, t, _f, _d in reference.STANDARD_POS_STEPS if i == integration}
    others = {t for i, t, _f, _d in reference.STANDARD_POS_STEPS if i != integration}
    titles = set(MerchantTask.objects.filter(merchant=merchant).values_list("title", flat=True))
    assert steps <= titles and not others & titles
    expected_facts = {F.POS_CREDENTIALS, F.POS_FIRST_SALE, F.POS_FIRST_REFUND}
    if integration != "none":  # the cashier page has no webhook to sign
        expected_facts.add(F.POS_TEST_EVENT)
    facts = set(
        MerchantTask.objects.filter(merchant=merchant, title__in=steps).values_list(
            "fact", flat=True
        )
    )
    assert facts == expected_facts


def test_evotor_credentials_fact():
    merchant = MerchantFactory(pos_integration="evotor")
    assert not _facts(merchant).holds(F.POS_CREDENTIALS)
    merchant.evotor_token_hash = "ab" * 32
    merchant.save()
    assert _facts(merchant).holds(F.POS_CREDENTIALS)


def test_poster_credentials_need_account_secret_and_token():
    merchant = MerchantFactory(
        pos_integration="poster", poster_account="shop", poster_api_token="t"
    )
    assert not _facts(merchant).holds(F.POS_CREDENTIALS)
    merchant.poster_client_secret = "s"
    merchant.save()
    assert _facts(merchant).holds(F.POS_CREDENTIALS)


def test_cashier_page_credentials_are_a_cashier_login():
    merchant = MerchantFactory(pos_integration="none")
    staff = StaffMemberFactory(merchant=merchant)
    assert not _facts(merchant).holds(F.POS_CREDENTIALS)
    staff.user = UserFactory(username="till1")
    staff.save()
    assert _facts(merchant).holds(F.POS_CREDENTIALS)


def test_signed_test_event_fact():
    merchant = MerchantFactory(pos_integration="evotor")
    PosEvent.objects.create(merchant=merchant, system="evotor", endpoint="x", status="unauthorized")
    PosEvent.objects.create(merchant=merchant, system="evotor", endpoint="x", status="rejected")
    PosEvent.objects.create(merchant=merchant, system="poster", endpoint="x", status="ignored")
    PosEvent.objects.create(merchant=None, system="evotor", endpoint="x", status="ignored")
    assert _facts(merchant).pos_signed_events == 0
    assert not _facts(merchant).holds(F.POS_TEST_EVENT)
    PosEvent.objects.create(merchant=merchant, system="evotor", endpoint="x", status="ignored")
    assert _facts(merchant).pos_signed_events == 1
    assert _facts(merchant).holds(F.POS_TEST_EVENT)


@pytest.mark.parametrize(
    "integration,source,other",
    [("evotor", "evotor", "cashier"), ("poster", "poster", "evotor"), ("none", "cashier", "demo")],
)
def test_first_sale_and_first_refund_facts(integration, source, other):
    merchant = MerchantFactory(pos_integration=integration)
    foreign = _sale(merchant, other, "o1")  # from somewhere else: not this integration's sale
    _refund(foreign)
    facts = _facts(merchant)
    assert (facts.pos_sales, facts.pos_refunds) == (0, 0)
    assert not facts.holds(F.POS_FIRST_SALE) and not facts.holds(F.POS_FIRST_REFUND)
    sale = _sale(merchant, source)
    facts = _facts(merchant)
    assert facts.holds(F.POS_FIRST_SALE) and not facts.holds(F.POS_FIRST_REFUND)
    _refund(sale)
    facts = _facts(merchant)
    assert (facts.pos_sales, facts.pos_refunds) == (1, 1)
    assert facts.holds(F.POS_FIRST_REFUND)
    assert facts.describe(F.POS_FIRST_REFUND) == "refunds recorded from the till: 1"


def test_facts_tick_the_readiness_tasks(template):
    merchant = MerchantFactory(pos_integration="evotor", evotor_token_hash="ab" * 32)
    template_apply(merchant=merchant, template=template)
    sale = _sale(merchant, "evotor")
    facts_sync(merchants=[merchant])
    done = set(
        MerchantTask.objects.filter(merchant=merchant, status=TaskStatus.DONE).values_list(
            "fact", flat=True
        )
    )
    assert {F.POS_CREDENTIALS, F.POS_FIRST_SALE} <= done
    assert F.POS_FIRST_REFUND not in done and F.POS_TEST_EVENT not in done
    _refund(sale)
    facts_sync(merchants=[merchant])
    assert MerchantTask.objects.get(merchant=merchant, fact=F.POS_FIRST_REFUND).status == "done"
