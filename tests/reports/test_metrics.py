from datetime import date
from decimal import Decimal as D

import pytest

from crm.models import Client, ClientSource
from loyalty.models import Certificate
from reports import metrics
from reports.metrics import ComponentConfig, economic_benefit, point_b
from reports.models import BenefitComponent, ComponentKind
from reports.pointb import DetailRow, ReferralGeneration
from reports.rollup import reports_refresh
from tests.factories import BranchFactory, ClientFactory, MerchantFactory

from .conftest import at, buy

TODAY = date(2025, 3, 1)


def test_point_b_on_hand_built_data(small_merchant):
    b = point_b(merchant=small_merchant, today=TODAY)
    assert b.data_source == "live"
    # contacts a–f; imported a, f; members a–e
    assert (b.clients.contacts, b.clients.imported, b.clients.organic) == (6, 2, 4)
    assert b.clients.members == 5 and b.clients.members_percent == D("83.33")
    # buyers a, b, c, d (d's first purchase was refunded in full, the second counts)
    assert b.clients.buyers == 4 and b.clients.buyers_percent == D("66.67")
    # card purchases: a×2, b, c, d's second = 5; revenue 1000+2000+5000+3000+800 = 11 800
    assert b.sales.card_purchases == 5
    assert b.sales.card_revenue == D("11800.00")
    assert b.sales.by_phone == 1 and b.sales.by_phone_percent == D("20.00")
    # actual discount 100 / 11 800 = 0.847…%
    assert b.sales.actual_discount_percent == D("0.85")
    # 5 purchases / 4 buyers; regular = a (2 purchases, 3000 of 11 800 = 25.42%)
    assert b.clients.purchases_per_buyer == D("1.25")
    assert b.clients.regular_buyers == 1 and b.clients.regular_buyers_percent == D("25.00")
    assert b.clients.purchases_per_regular == D("2.00")
    assert b.clients.regular_revenue_percent == D("25.42")
    # checks: 11 800 / 5 = 2360 with card, 1000 / 2 = 500 without, +372%
    assert b.sales.average_check_card == D("2360.00")
    assert b.sales.average_check_nocard == D("500.00")
    assert b.sales.card_check_uplift_percent == D("372.00")
    # referrals d (gen 1), e (gen 2); d bought
    assert (
        b.referrals.referral_clients,
        b.referrals.referral_buyers,
        b.referrals.referral_depth,
    ) == (2, 1, 2)
    assert b.referrals.referral_buyers_percent == D("50.00")
    assert b.referrals.referral_generations == (
        ReferralGeneration(generation=1, clients=1),
        ReferralGeneration(generation=2, clients=1),
    )
    assert (b.feedback.ratings, b.feedback.rating_average, b.feedback.reviews) == (2, D("4.50"), 2)
    assert b.certificates.certificate_purchases == 1 and b.certificates.certificate_revenue == D(
        "5000.00"
    )
    assert b.sources.referral_revenue == D("800.00")
    assert b.sources.platform_revenue == D("5000.00")
    assert b.sources.sources_revenue == D("3000.00")
    assert b.sources.revenue_by_promo_code == (
        DetailRow(name="INSTA", purchases=1, revenue=D("3000.00")),
    )
    # saving 5% × 11 800 − 100 = 490
    assert b.benefit.saving == D("490.00")
    # benefit: 490 + 5000 + 20% × 5000 + 3000 + 800 + 0 = 10 290
    assert b.benefit.total == D("10290.00")
    platform = next(c for c in b.benefit.components if c.kind == "platform")
    assert platform.share_percent == D("20.00") and platform.amount == D("1000.00")
    months = {m.month: m for m in b.months}
    assert months[date(2025, 1, 1)].purchases == 3
    assert months[date(2025, 1, 1)].members == 4
    assert months[date(2025, 2, 1)].revenue == D("2800.00")
    assert months[date(2025, 2, 1)].members == 1
    channels = {c.channel: c for c in b.sources.channels}
    assert channels["import"].revenue == D("3000.00")
    assert channels["referral"].members == 2


def test_period_and_branch_filters(small_merchant):
    february = point_b(
        merchant=small_merchant, start=date(2025, 2, 1), end=date(2025, 2, 28), today=TODAY
    )
    # a's 2000 and d's 800 with card; 400 without; member e joined in February
    assert february.sales.card_purchases == 2
    assert february.sales.card_revenue == D("2800.00")
    assert february.sales.nocard_revenue == D("400.00")
    assert february.clients.members == 1
    assert february.clients.buyers == 2 and february.clients.regular_buyers == 0
    assert february.feedback.ratings == 0 and february.feedback.rating_average is None
    branch = BranchFactory(merchant=small_merchant)
    buy(
        small_merchant,
        small_merchant.clients_by_name["c"],
        700,
        day=date(2025, 2, 20),
        branch=branch,
    )
    only_branch = point_b(merchant=small_merchant, branch_id=branch.pk, today=TODAY)
    assert only_branch.sales.card_purchases == 1 and only_branch.sales.card_revenue == D("700.00")
    assert only_branch.clients.contacts == 6  # client figures are per merchant
    rows = metrics.branch_breakdown(merchant=small_merchant, today=TODAY)
    assert {r["branch"]: r["card_revenue"] for r in rows} == {
        "—": D("11800.00"),
        branch.name: D("700.00"),
    }


def test_empty_merchant_has_no_division_by_zero(merchant):
    b = point_b(merchant=merchant)
    assert b.clients.contacts == 0 and b.sales.card_purchases == 0
    assert b.sales.actual_discount_percent is None and b.sales.average_check_card is None
    assert b.clients.members_percent is None and b.benefit.total == D("0.00")
    assert b.referrals.referral_depth == 0


def test_rollup_and_snapshot_give_the_live_figures(small_merchant, monkeypatch):
    live = point_b(merchant=small_merchant, today=TODAY)
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    snapshot = reports_refresh(merchant=small_merchant, today=date(2025, 2, 13))
    assert snapshot.rollup_through == date(2025, 2, 12)
    # a purchase after the rollup is read live and added
    buy(small_merchant, None, 50, day=date(2025, 2, 20))
    rolled = point_b(merchant=small_merchant, today=TODAY)
    assert rolled.data_source == "rollup"
    assert rolled.sales.nocard_revenue == live.sales.nocard_revenue + 50
    for figure in (
        lambda b: b.sales.card_revenue,
        lambda b: b.sales.card_purchases,
        lambda b: b.clients.members,
        lambda b: b.benefit.saving,
        lambda b: b.months,
        lambda b: b.sources.channels,
        lambda b: b.certificates.certificate_revenue,
        lambda b: b.benefit,
        lambda b: b.sources.revenue_by_promo_code,
    ):
        assert figure(rolled) == figure(live)
    # the default period on the rollup day reads client-level figures from the snapshot
    same_day = point_b(merchant=small_merchant, today=date(2025, 2, 13))
    assert same_day.clients.buyers == 4 and same_day.clients.regular_revenue_percent == D("25.42")
    assert same_day.tiers == live.tiers and same_day.rfm[0].segment == "champions"


def test_a_period_without_sales_or_members_from_the_rollup(small_merchant, monkeypatch):
    """The rollup's empty answer (no sales, no members in a custom period) gives the live
    figures: zeros, no channel and no month, and the month table and channels of the rest."""
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    reports_refresh(merchant=small_merchant, today=date(2025, 2, 13))
    quiet = {"start": date(2024, 6, 1), "end": date(2024, 6, 30), "today": TODAY}
    rolled = point_b(merchant=small_merchant, **quiet)
    live = point_b(merchant=small_merchant, use_snapshot=False, **quiet)
    assert rolled.data_source == "rollup"
    assert rolled.sales == live.sales and rolled.sales.card_purchases == 0
    assert rolled.months == live.months == ()
    assert rolled.sources == live.sources and rolled.sources.channels == ()
    assert rolled.clients.members == live.clients.members == 0
    # the months and channels of a period with sales, summed from one statement
    january = {"start": date(2025, 1, 1), "end": date(2025, 1, 31), "today": TODAY}
    rolled = point_b(merchant=small_merchant, **january)
    live = point_b(merchant=small_merchant, use_snapshot=False, **january)
    assert rolled.months == live.months and len(rolled.months) == 1
    assert rolled.sources == live.sources and rolled.sales == live.sales
    assert rolled.sales.card_revenue == D("9000.00")  # 1000 + 5000 + 3000 + 0 (refunded)


def test_benefit_components_are_editable_per_merchant(small_merchant):
    BenefitComponent.objects.create(merchant=small_merchant, kind="saving", included=False)
    BenefitComponent.objects.create(
        merchant=small_merchant, kind="platform", attribution_percent=D(50)
    )
    BenefitComponent.objects.create(
        merchant=small_merchant, kind="manual", label="In-app banner", manual_amount=D("3670")
    )
    b = point_b(merchant=small_merchant, today=TODAY)
    # 5000 + 50% × 5000 + 3000 + 800 + 3670 (saving excluded)
    assert b.benefit.total == D("14970.00")
    manual = b.benefit.components[-1]
    assert manual.label == "In-app banner" and manual.amount == D("3670.00")


# ── the seeds' sums ──────────────────────────────────────────────────────────────────


def seed_config(*kinds):
    return [ComponentConfig(k, k) for k in kinds]


def test_000_benefit_from_its_components():
    merchant = MerchantFactory.build(platform_traffic_share_percent=D(20))
    result = economic_benefit(
        merchant=merchant,
        revenues={
            "certificates": D("138708"),
            "platform": D("4568145.71"),
            "sources": D("48655"),
            "referrals": D("71298"),
        },
        config=seed_config("certificates", "platform", "sources", "referrals"),
    )
    # 138 708 + 913 629.14 + 48 655 + 71 298
    assert result.components[1].amount == D("913629.14")
    assert result.total == D("1172290.14")
    assert result.total.quantize(D(1)) == D("1172290")


def test_002_benefit_from_its_components_within_rounding():
    merchant = MerchantFactory.build(platform_traffic_share_percent=D(20))
    sources = sum(D(x) for x in ("1951109", "29016", "339090", "186470", "312956"))
    result = economic_benefit(
        merchant=merchant,
        revenues={
            "saving": D("1024944"),
            "certificates": D("512543"),
            "referrals": D("334610"),
            "sources": sources,
            # 20% of 8 817 440 is the seed's 1 763 488 "new platform clients"
            "platform": D("8817440"),
        },
        config=seed_config("saving", "certificates", "referrals", "sources", "platform"),
    )
    # The seed's components add up to 6 454 226; its headline says 6 454 155 (0.001% apart).
    assert result.total == D("6454226.00")
    assert abs(result.total - D("6454155")) / D("6454155") < D("0.0001")


def test_003_benefit_from_its_components():
    merchant = MerchantFactory.build()
    result = economic_benefit(
        merchant=merchant,
        revenues={"certificates": D("637000"), "referrals": D("390000"), "platform": D(0)},
        config=seed_config("certificates", "referrals", "platform"),
    )
    assert result.total == D("1027000.00")


@pytest.mark.django_db
def test_000_benefit_from_live_purchases():
    """Purchases whose component revenues are ZOLOTOFF's: the dashboard's benefit is the seed's."""
    m = MerchantFactory(slug="zolotoff-like", platform_traffic_share_percent=D(20))
    BenefitComponent.objects.create(merchant=m, kind=ComponentKind.SAVING, included=False)
    organic = ClientFactory(merchant=m, source=ClientSource.ORGANIC)
    platform = ClientFactory(merchant=m, source=ClientSource.PLATFORM)
    promo = ClientFactory(merchant=m, source=ClientSource.PROMO_CODE, source_detail="VK")
    referred = ClientFactory(merchant=m, source=ClientSource.REFERRAL, referred_by=organic)
    day = date(2025, 1, 10)
    buy(m, organic, "138708", day=day, cert=2000)
    buy(m, platform, "3801620", day=day)
    buy(m, platform, "766525.71", day=day)
    buy(m, promo, "48655", day=day)
    buy(m, referred, "71298", day=day)
    b = point_b(merchant=m, today=date(2025, 1, 31))
    assert b.sources.platform_revenue == D("4568145.71")
    assert b.benefit.total == D("1172290.14")


@pytest.mark.django_db
def test_003_benefit_from_live_purchases():
    m = MerchantFactory(slug="sakura-like", previous_discount_percent=D(0))
    organic = ClientFactory(merchant=m, source=ClientSource.ORGANIC)
    referred = ClientFactory(merchant=m, source=ClientSource.REFERRAL, referred_by=organic)
    buy(m, organic, "637000", day=date(2024, 6, 1), cert=150)
    buy(m, referred, "390000", day=date(2024, 6, 2))
    b = point_b(merchant=m, today=date(2024, 12, 1))
    assert b.benefit.total == D("1027000.00")


def test_certificates_issued_in_period(small_merchant):
    client = Client.objects.filter(merchant=small_merchant).first()
    for day in (date(2025, 1, 3), date(2025, 2, 3)):
        Certificate.objects.create(
            merchant=small_merchant,
            client=client,
            points=D(100),
            redemption_cap_percent=D(20),
            issued_at=at(day),
            valid_until=at(day.replace(day=25)),
        )
    assert point_b(merchant=small_merchant, today=TODAY).certificates.certificates_issued == 2
    jan = point_b(
        merchant=small_merchant, start=date(2025, 1, 1), end=date(2025, 1, 31), today=TODAY
    )
    assert jan.certificates.certificates_issued == 1
