"""`manage.py demo` builds the five merchants with consistent histories, and is idempotent."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Count, Sum

from crm.models import Client, Review
from loyalty.models import LedgerEntry, Purchase
from loyalty.money import q
from onboarding.models import Merchant

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
    call_command("demo", stdout=out)
    first = snapshot()
    assert first[0] == 5
    assert "owner-zolotoff" in out.getvalue() and "specialist" in out.getvalue()
    call_command("demo", stdout=StringIO())
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
