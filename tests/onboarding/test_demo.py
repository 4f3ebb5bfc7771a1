"""`manage.py demo` builds the five merchants with consistent histories, and is idempotent."""

from decimal import Decimal as D
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from crm.models import Client, Review
from loyalty.models import LedgerEntry, Purchase
from onboarding.models import Merchant
from onboarding.money import q

pytestmark = pytest.mark.django_db


def snapshot():
    return (
        Merchant.objects.count(),
        Client.objects.count(),
        Purchase.objects.count(),
        LedgerEntry.objects.count(),
        Review.objects.count(),
    )


def test_demo_twice_creates_once_and_balances_match_ledger():
    out = StringIO()
    call_command("demo", "--force", stdout=out)
    first = snapshot()
    assert first[0] == 5
    assert "owner-zolotoff" in out.getvalue() and "specialist" in out.getvalue()
    call_command("demo", "--force", stdout=StringIO())
    assert snapshot() == first

    zolotoff = Merchant.objects.get(slug="zolotoff")
    assert zolotoff.clients.count() == 7066
    assert zolotoff.clients.filter(imported=True).count() == 5731
    assert zolotoff.clients.filter(joined_at__isnull=False).count() == 1276
    buyers = zolotoff.purchases.filter(client__isnull=False).values("client").distinct().count()
    assert buyers == 692
    # Referral chains reach three generations.
    assert zolotoff.clients.filter(referred_by__referred_by__referred_by__isnull=False).exists()
    # Every cached balance equals its ledger sum and is never negative.
    sums = dict(LedgerEntry.objects.order_by().values_list("client").annotate(s=Sum("points")))
    # (SQLite sums decimals as floats: compare after the one rounding rule.)
    mismatched = [c for c in Client.objects.filter(pk__in=sums) if c.balance != q(sums[c.pk])]
    assert mismatched == []
    assert not Client.objects.filter(balance__lt=0).exists()
    assert (Client.objects.exclude(pk__in=sums).exclude(balance=0).count()) == 0
    per_merchant = dict(Merchant.objects.annotate(n=Count("clients")).values_list("slug", "n"))
    assert per_merchant["sakura"] == 13101


# Seed headline benefit, and the difference between the headline and the sum of the seed's
# own components (the demo reproduces the components; see docs/reports.md).
SEED_BENEFIT = {
    "zolotoff": (D("1172290"), D("0.14")),  # 20 % of 4 568 145.71 = 913 629.14
    "kz-restaurant": (D("111300000"), D("0")),
    "rustore": (D("6454155"), D("71")),  # the seed's components add up to 6 454 226
    "sakura": (D("1027000"), D("0")),
    "tbilisi-restaurant": (D("12900"), D("-30")),  # 5 900 + 3 670 + 1 900 + 1 400 = 12 870
}


def test_demo_follows_the_seeds(django_user_model):
    from onboarding.models import MerchantTask
    from reports.metrics import point_b

    call_command("demo", "--force", stdout=StringIO())
    for slug, (headline, residue) in SEED_BENEFIT.items():
        merchant = Merchant.objects.get(slug=slug)
        b = point_b(merchant=merchant, use_snapshot=False)
        assert b.benefit.total == headline + residue, slug
        # Launched: nothing overdue, the seed's actions done, the rest "not needed".
        tasks = MerchantTask.objects.filter(merchant=merchant)
        assert not tasks.filter(status__in=["todo", "in_progress"]).exists(), slug
        late = [t for t in tasks.filter(status="done") if t.completed_at.date() > t.due_date]
        assert late == [], slug
    by = {
        slug: {
            c.kind: c
            for c in point_b(
                merchant=Merchant.objects.get(slug=slug), use_snapshot=False
            ).benefit.components
        }
        for slug in SEED_BENEFIT
    }
    assert by["zolotoff"]["platform"].revenue == D("4568145.71")
    assert by["zolotoff"]["platform"].share_percent == D(20)
    assert not by["zolotoff"]["saving"].included and not by["sakura"]["saving"].included
    assert by["kz-restaurant"]["saving"].revenue == D("16500000")
    assert by["kz-restaurant"]["platform"].amount == D("101600000")
    assert by["rustore"]["platform"].share_percent == D(100)
    assert by["rustore"]["sources"].revenue == D("2818641")
    assert by["sakura"]["certificates"].amount == D("637000")
    assert by["tbilisi-restaurant"]["manual"].amount in (D("3670"), D("1400"))
    # Seed 000's own actions are done; another seed's (promo code per channel, 002) is not.
    zolotoff = Merchant.objects.get(slug="zolotoff")
    assert zolotoff.tasks.get(title__startswith="Провести импорт").status == "done"
    assert zolotoff.tasks.get(title__startswith="Задать промокод").status == "skipped"
    assert (
        Merchant.objects.get(slug="rustore").tasks.get(title__startswith="Провести импорт").status
        == "skipped"
    )
    # People follow the seeds.
    assert zolotoff.owners.get().get_full_name() == "Елена Чинчин"
    assert zolotoff.partner.get_full_name() == "Юлия Милашенко"
    assert [u.get_full_name() for u in zolotoff.specialists.all()] == ["Ирина Воронова"]


def test_demo_refuses_without_debug_or_force(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off") as refused:
        call_command("demo", stdout=StringIO())
    assert refused.value.returncode == 3
    assert not Merchant.objects.exists()
    assert not django_user(username="admin")


def django_user(**lookup):
    from django.contrib.auth.models import User

    return User.objects.filter(**lookup).exists()


@pytest.mark.parametrize("debug", [True, False])
def test_demo_never_loads_into_a_database_with_other_merchants(settings, debug):
    from django.core.management.base import CommandError

    from tests.factories import MerchantFactory

    settings.DEBUG = debug
    MerchantFactory(slug="real-shop", name="Real shop")
    with pytest.raises(CommandError, match="1 merchant that is not part of the demo"):
        call_command("demo", "--force", stdout=StringIO())
    assert list(Merchant.objects.values_list("slug", flat=True)) == ["real-shop"]
    assert not django_user(username="admin")
