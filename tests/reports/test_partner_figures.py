"""The partners block read from the figures the nightly refresh keeps (`reports.partner_figures`)
equals the live computation: after refunds, a client whose source or partner changes, a
purchase carried back into a past month, a partner without purchases, a referred partner
client, a deleted client — corrected on the page before the next night, carried by the night,
and equal to a full refresh's."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from crm.models import Client, ClientSource
from loyalty.models import Purchase, Refund
from onboarding.money import ZERO
from reports import metrics, partners, rollup
from reports.aggregates import Period
from reports.models import ClientChange, PartnerClient, PartnerFigures
from reports.partner_figures import changed_client_ids, fold, rows_totals, totals_add, totals_dump
from reports.partners import live_totals, partner_summary, stored_totals
from reports.rollup import reports_refresh
from tests.factories import ClientFactory, MerchantFactory

from .conftest import at, buy
from .test_refresh_incremental import refund

FIRST_NIGHT = date(2025, 3, 1)
TODAY = date(2025, 3, 10)


def shown(totals: dict) -> dict:
    return {name: [*t[:4], t[4] + ZERO] for name, t in totals.items() if t[0] > 0}


def assert_stored_is_live(merchant, start=None, end=TODAY):
    """The stored path serves [start, end] and gives the live figures, which are not empty."""
    since, until = Period(start=start, end=end).bounds(merchant)
    stored = stored_totals(merchant, since, until)
    assert stored is not None, "the stored figures should serve this period"
    live = live_totals(merchant, since, until)
    assert any(t[3] for t in live.values())
    assert shown(stored) == shown(live)
    return shown(live)


def assert_night(merchant, today):
    """An incremental night: its kept rows and sums equal a full refresh's."""
    snap = reports_refresh(merchant=merchant, today=today)
    assert snap.timings["partners_mode"] == "incremental"
    kept = (
        PartnerFigures.objects.get(merchant=merchant).partners,
        sorted(PartnerClient.objects.filter(merchant=merchant).values_list()),
    )
    assert_stored_is_live(merchant)
    full = reports_refresh(merchant=merchant, today=today, full=True)
    assert full.timings["partners_mode"] == "full"
    assert kept == (
        PartnerFigures.objects.get(merchant=merchant).partners,
        sorted(PartnerClient.objects.filter(merchant=merchant).values_list()),
    )
    return snap


@pytest.fixture
def merchant(db, monkeypatch):
    """Two partners and a partner without purchases; a referred partner client; clients of
    other sources buying too."""
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    m = MerchantFactory(slug="partners", time_zone="Europe/Moscow")
    joined = at(date(2025, 1, 2))

    def client(name, source=ClientSource.PARTNER, **kw):
        return ClientFactory(merchant=m, source=source, source_detail=name, **kw)

    cafe1 = client("Cafe", joined_at=joined)
    cafe2 = client("Cafe")
    gym = client("Gym", joined_at=joined)
    referrer = client("", source=ClientSource.ORGANIC)
    gym_referred = client("Gym", joined_at=joined, referred_by=referrer)
    client("Bakery", joined_at=joined)  # a partner without purchases
    client("")  # a partner client without a partner's name
    promo = client("Cafe", source=ClientSource.PROMO_CODE)
    buy(m, cafe1, 1000, day=date(2025, 1, 5))
    buy(m, cafe1, 2000, day=date(2025, 2, 5), refunded=500)
    buy(m, cafe2, 3000, day=date(2025, 1, 6), refunded=3000)  # fully refunded: not a purchase
    buy(m, gym, 700, day=date(2025, 2, 7))
    buy(m, gym_referred, 900, day=date(2025, 2, 8))
    buy(m, promo, 5000, day=date(2025, 2, 9))
    buy(m, referrer, 400, day=date(2025, 2, 9))
    buy(m, None, 600, day=date(2025, 2, 9))
    first = reports_refresh(merchant=m, today=FIRST_NIGHT)
    assert first.timings["partners_mode"] == "full"
    m.c = {"cafe1": cafe1, "cafe2": cafe2, "gym": gym, "gym_referred": gym_referred}
    m.c.update(promo=promo, referrer=referrer)
    return m


def test_the_kept_figures_after_a_full_refresh(merchant):
    figures = assert_stored_is_live(merchant)
    assert figures == {
        "Cafe": [2, 1, 1, 2, D("2500.00")],
        "Gym": [2, 2, 2, 2, D("1600.00")],  # the referred one counted under its partner
        "Bakery": [1, 1, 0, 0, ZERO],
        "—": [1, 0, 0, 0, ZERO],
    }
    assert partner_summary(merchant=merchant, start=None, end=TODAY) == [
        {"name": "Cafe", "clients": 2, "joined": 1, "buyers": 1, "purchases": 2,
         "revenue": D("2500.00")},
        {"name": "Gym", "clients": 2, "joined": 2, "buyers": 2, "purchases": 2,
         "revenue": D("1600.00")},
        {"name": "Bakery", "clients": 1, "joined": 1, "buyers": 0, "purchases": 0,
         "revenue": D("0.00")},
        {"name": "—", "clients": 1, "joined": 0, "buyers": 0, "purchases": 0,
         "revenue": D("0.00")},
    ]  # fmt: skip
    rows = PartnerClient.objects.filter(merchant=merchant)
    assert totals_add({}, rows) == figures
    assert rows_totals(rows) == figures


def test_the_stored_path_reads_the_kept_sums(merchant):
    """Kept sums that differ from the live ones show: the page reads them (so the comparisons
    above test the stored path, not a live fallback)."""
    figures = PartnerFigures.objects.get(merchant=merchant)
    figures.partners["Cafe"][3] += 1
    figures.save()
    since, until = Period(start=None, end=TODAY).bounds(merchant)
    assert stored_totals(merchant, since, until)["Cafe"][3] == 3
    assert partner_summary(merchant=merchant, start=None, end=TODAY)[0]["purchases"] == 3


def day_of_changes(m):
    """Refunds (partial and full), a partner changed, a client leaving the partners and one
    joining them, a new partner client, a purchase carried back into January, a deletion."""
    c = m.c
    refund(c["cafe1"].purchases.get(occurred_at=at(date(2025, 1, 5))), 1000)  # now fully
    refund(c["gym"].purchases.get(), 100)
    Client.objects.filter(pk=c["gym"].pk).update(source_detail="Cafe")
    Client.objects.filter(pk=c["gym_referred"].pk).update(source=ClientSource.ORGANIC)
    Client.objects.filter(pk=c["promo"].pk).update(source=ClientSource.PARTNER)
    new = ClientFactory(merchant=m, source=ClientSource.PARTNER, source_detail="Bakery")
    buy(m, new, 250, day=date(2025, 3, 5))
    buy(m, c["cafe2"], 1200, day=date(2025, 1, 20))  # recorded now, dated in January
    Client.objects.filter(pk=c["cafe2"].pk).update(joined_at=at(date(2025, 3, 5)))
    gone = ClientFactory(merchant=m, source=ClientSource.PARTNER, source_detail="Gym")
    return gone


def test_changes_corrected_on_the_page_then_carried_by_the_night(merchant):
    before = assert_stored_is_live(merchant)
    gone = day_of_changes(merchant)
    page = assert_stored_is_live(merchant)  # corrected live before the night
    assert page != before
    assert page["Cafe"] == [4, 3, 4, 4, D("8300.00")]  # cafe1, cafe2 (January), gym, promo
    assert_night(merchant, FIRST_NIGHT + timedelta(days=1))
    # the next day: the deleted client, a new purchase, a partner's only client leaving it
    gone.delete()
    buy(merchant, merchant.c["cafe1"], 300, day=date(2025, 3, 6))
    Client.objects.filter(pk=merchant.c["gym"].pk).update(source_detail="Bakery")
    assert_stored_is_live(merchant)
    assert_night(merchant, FIRST_NIGHT + timedelta(days=2))


def test_periods(merchant):
    """A period from before every kept purchase and one ending before some of them are served
    by the kept figures; one starting after a kept purchase is computed live."""
    assert_stored_is_live(merchant, start=date(2025, 1, 1))
    assert_stored_is_live(merchant, end=date(2025, 2, 6))  # purchases after it taken away
    since, until = Period(start=date(2025, 2, 1), end=TODAY).bounds(merchant)
    assert stored_totals(merchant, since, until) is None
    assert partner_summary(merchant=merchant, start=date(2025, 2, 1), end=TODAY)[0] == {
        "name": "Cafe", "clients": 2, "joined": 1, "buyers": 1, "purchases": 1,
        "revenue": D("1500.00"),
    }  # fmt: skip


def test_live_until_the_first_refresh_and_when_out_of_step(merchant, monkeypatch):
    since, until = Period(start=None, end=TODAY).bounds(merchant)
    figures = PartnerFigures.objects.get(merchant=merchant)
    figures.purchases_seen_id -= 1  # written by another refresh than the snapshot's
    figures.save()
    assert stored_totals(merchant, since, until) is None
    PartnerFigures.objects.all().delete()
    assert stored_totals(merchant, since, until) is None
    assert partner_summary(merchant=merchant, start=None, end=TODAY)[0]["revenue"] == D("2500")
    monkeypatch.setattr(partners, "STORED_MAX_CHANGED", 0)
    reports_refresh(merchant=merchant, today=FIRST_NIGHT + timedelta(days=1))
    assert stored_totals(merchant, since, until) is not None
    buy(merchant, merchant.c["cafe1"], 300, day=date(2025, 3, 6))
    assert stored_totals(merchant, since, until) is not None  # a purchase is added, not redone
    refund(merchant.c["cafe1"].purchases.get(amount=300), 100)
    assert stored_totals(merchant, since, until) is None  # one changed client is too many here


def test_a_drop_forgets_the_kept_figures_and_the_block_goes_live(merchant):
    since, until = Period(start=None, end=TODAY).bounds(merchant)
    live = live_totals(merchant, since, until)
    rollup.reports_drop(merchant=merchant)
    assert not PartnerClient.objects.filter(merchant=merchant).exists()
    assert not PartnerFigures.objects.filter(merchant=merchant).exists()
    assert stored_totals(merchant, since, until) is None
    assert partner_summary(merchant=merchant, start=None, end=TODAY)[0]["revenue"] == D("2500")
    assert live_totals(merchant, since, until) == live


def test_purchases_recorded_within_the_marks_window_are_added_by_the_page(merchant, monkeypatch):
    """The night keeps the purchases up to its mark: those recorded in the minutes before it
    are not in the rows, the page adds them (a client without a kept purchase becomes a buyer,
    one dated after the period's end or before its start is left out), the next night folds
    them."""
    earlier = timezone.now() - timedelta(hours=1)
    for model in (Purchase, Refund, Client):
        model.objects.filter(merchant=merchant).update(created_at=earlier)
    cafe1, cafe2 = merchant.c["cafe1"], merchant.c["cafe2"]
    late = [
        buy(merchant, cafe1, 300, day=date(2025, 3, 6)),
        buy(merchant, cafe2, 400, day=date(2025, 3, 7)),  # its only other purchase refunded
        buy(merchant, cafe2, 900, day=date(2025, 3, 12)),  # after the period of the page
    ]
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(minutes=10))
    reports_refresh(merchant=merchant, today=FIRST_NIGHT + timedelta(days=1))
    figures = PartnerFigures.objects.get(merchant=merchant)
    assert figures.purchases_seen_id < min(p.pk for p in late)
    assert PartnerClient.objects.get(client_id=cafe1.pk).purchases == 2  # as before them
    assert PartnerClient.objects.get(client_id=cafe2.pk).purchases == 0
    page = assert_stored_is_live(merchant)
    assert page["Cafe"] == [2, 1, 2, 4, D("3200.00")]
    assert assert_stored_is_live(merchant, start=date(2025, 1, 1), end=date(2025, 3, 6)) == {
        **page,
        "Cafe": [2, 1, 1, 3, D("2800.00")],
    }
    assert assert_stored_is_live(merchant, end=date(2025, 3, 20))["Cafe"] == [
        2, 1, 2, 5, D("4100.00")
    ]  # fmt: skip
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    assert_night(merchant, FIRST_NIGHT + timedelta(days=2))
    assert PartnerClient.objects.get(client_id=cafe2.pk).purchases == 2


def test_rows_folded_before_they_stopped_at_the_mark(merchant, monkeypatch):
    """Kept figures written before the rows stopped at the purchase mark (`to_mark` False: a
    row may hold a purchase recorded past it): the page computes the buyers since live instead
    of adding their purchases, and the next night folds them again and sets the rule."""
    earlier = timezone.now() - timedelta(hours=1)
    for model in (Purchase, Refund, Client):
        model.objects.filter(merchant=merchant).update(created_at=earlier)
    cafe1 = merchant.c["cafe1"]
    buy(merchant, cafe1, 300, day=date(2025, 3, 6))  # inside the night's mark window
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(minutes=10))
    reports_refresh(merchant=merchant, today=FIRST_NIGHT + timedelta(days=1))
    # as the fold before the rule left them: the purchase past the mark in its client's row
    PartnerClient.objects.filter(client_id=cafe1.pk).delete()
    PartnerClient.objects.bulk_create(fold(merchant, [cafe1.pk], through=10**12))
    rows = PartnerClient.objects.filter(merchant=merchant)
    PartnerFigures.objects.filter(merchant=merchant).update(
        to_mark=False, partners=totals_dump(rows_totals(rows))
    )
    assert PartnerClient.objects.get(client_id=cafe1.pk).purchases == 3
    assert assert_stored_is_live(merchant)["Cafe"] == [2, 1, 1, 3, D("2800.00")]
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    snap = assert_night(merchant, FIRST_NIGHT + timedelta(days=2))
    assert snap.timings["partners_mode"] == "incremental"
    assert PartnerFigures.objects.get(merchant=merchant).to_mark


def test_new_clients_of_other_sources_are_not_corrected(merchant):
    """Of the clients recorded past the clients' mark only the partner ones and those with a
    row are corrected: a new client of another source buying is not among the changed ids, a
    new partner client is, and so is a client past the mark whose row a fold read before its
    source changed (its change row gone with the night)."""
    figures = PartnerFigures.objects.get(merchant=merchant)
    pos = ClientFactory(merchant=merchant, source=ClientSource.POS)
    buy(merchant, pos, 800, day=date(2025, 3, 5))
    partner = ClientFactory(merchant=merchant, source=ClientSource.PARTNER, source_detail="Gym")
    buy(merchant, partner, 150, day=date(2025, 3, 5))
    left = ClientFactory(merchant=merchant, source=ClientSource.PARTNER, source_detail="Cafe")
    PartnerClient.objects.bulk_create(fold(merchant, [left.pk], through=10**12))
    rows = PartnerClient.objects.filter(merchant=merchant)
    PartnerFigures.objects.filter(merchant=merchant).update(partners=totals_dump(rows_totals(rows)))
    assert PartnerFigures.objects.get(merchant=merchant).partners["Cafe"][0] == 3  # with it
    Client.objects.filter(pk=left.pk).update(source=ClientSource.ORGANIC)
    ClientChange.objects.filter(client_id=left.pk).delete()

    def changed():
        return changed_client_ids(
            merchant,
            purchases_after=None,
            refunds_after=figures.refunds_seen_id,
            clients_after=figures.clients_seen_id,
        )

    assert changed() == {partner.pk, left.pk}
    page = assert_stored_is_live(merchant)  # the row read before the change taken away
    assert page["Cafe"] == [2, 1, 1, 2, D("2500.00")]
    assert page["Gym"] == [3, 2, 3, 3, D("1750.00")]
