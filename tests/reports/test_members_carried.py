"""The members rollup and buyers per source carried by an incremental refresh from the clients'
changes (`reports.members`): clients created by the import, at the till and in the admin, a
channel, source detail or join day changed through the services, the import, a bulk update
and the model, a deletion — each night equal to a full refresh and to the live figures."""

import threading
from datetime import date, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError, connection, connections, transaction
from django.urls import reverse
from django.utils import timezone

from crm.importing import clients_import
from crm.models import Client, ClientSource
from loyalty.services.members import client_join, client_register
from loyalty.services.referrals import referrer_assign
from reports import members, metrics, rollup
from reports.models import ClientChange, DailySales, ReportSnapshot
from reports.rollup import reports_refresh
from tests.conftest import requires_postgres
from tests.crm.import_files import HEADER_RU, write_csv
from tests.factories import ClientFactory, MerchantFactory

from .conftest import at, buy, sync_client_figures
from .test_refresh_incremental import (
    FIRST_NIGHT,
    NEXT_NIGHT,
    figures,
    members_rows,
    sales_rows,
)

THIRD_NIGHT = NEXT_NIGHT + timedelta(days=1)


def state(merchant, snap) -> tuple:
    return sales_rows(merchant), members_rows(merchant), snap.clients


def assert_equals_full(merchant, today):
    """An incremental refresh of `today`, then a full one: the same rollup, snapshot and
    figures, which are also the live ones; returns the incremental snapshot."""
    snap = reports_refresh(merchant=merchant, today=today)
    assert snap.timings["mode"] == "incremental"
    assert not ClientChange.objects.filter(merchant_id=merchant.pk).exists()
    incremental, shown = state(merchant, snap), figures(merchant, today)
    full = reports_refresh(merchant=merchant, today=today, full=True)
    assert full.timings["mode"] == "full"
    assert incremental[0] == state(merchant, full)[0]  # the sales rollup (channels of the days)
    assert incremental[1] == state(merchant, full)[1]  # the members rollup
    assert incremental[2] == state(merchant, full)[2]  # buyers per source among the rest
    assert shown == figures(merchant, today)
    live = figures(merchant, today, use_snapshot=False)
    assert shown.sources == live.sources  # channels' sales and buyers per source
    assert shown.clients == live.clients
    return snap


def admin_add(client, merchant, phone, joined_on: date):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    page = client.get(reverse("admin:crm_client_add"))
    inlines = {}  # no inline rows: the formsets' management forms only
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        inlines.update({f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"})
    response = client.post(
        reverse("admin:crm_client_add"),
        {
            **inlines,
            "merchant": merchant.pk,
            "phone": phone,
            "source": "partner",
            "source_detail": "Cafe",
            "joined_at_0": joined_on.isoformat(),
            "joined_at_1": "12:00:00",
            "balance": "0",
            "total_spent": "0",
            "purchases_count": "0",
        },
    )
    assert response.status_code == 302, response.context["errors"]
    return Client.objects.get(merchant=merchant, phone=phone)


def test_new_and_changed_clients_are_carried(rolled, client, tmp_path):
    merchant = rolled
    c = merchant.clients_by_name
    # new: at the till (a member of today), in the admin (joined in January), by the import —
    # phones outside the factories' sequence (+7913…), which other tests in a worker advance
    client_register(merchant=merchant, phone="+79990000101", source=ClientSource.POS,
                    joined_at=at(FIRST_NIGHT))  # fmt: skip
    admin_add(client, merchant, "+79990000102", date(2025, 1, 20))
    rows = [HEADER_RU, [c["a"].phone, "", "", "", "", "", "", "Radio"],
            ["+79990000103", "New Client", "", "", "", "", "", "Flyer"]]  # fmt: skip
    clients_import(merchant=merchant, path=str(write_csv(tmp_path / "c.csv", rows)), overwrite=True)
    assert Client.objects.get(merchant=merchant, phone=c["a"].phone).source_detail == "Radio"
    # changed: a buyer's channel (model save, as the admin's change form), a referrer set and
    # cleared (the service), a join day moved and a join (the ledger's bulk write), in bulk
    c["c"].source, c["c"].source_detail = ClientSource.PARTNER, "Cafe"
    c["c"].save()
    referrer_assign(client=c["b"], referrer=c["c"])
    referrer_assign(client=c["e"], referrer=None)
    Client.objects.filter(pk=c["d"].pk).update(joined_at=at(date(2025, 2, 20)))
    client_join(merchant=merchant, client=c["f"], joined_at=at(date(2025, 2, 1)))
    Client.objects.filter(pk=c["e"].pk).update(source_detail="Bulk")
    assert ClientChange.objects.filter(merchant_id=merchant.pk).count() >= 6
    buy(merchant, c["f"], 900, day=FIRST_NIGHT)
    # b's day gets a purchase under the channel b has from tonight: the next night moves b's
    # figures out of a row that keeps d's (no rewrite of the day)
    buy(merchant, c["d"], 700, day=date(2025, 1, 10))
    for one in ("d", "f"):
        sync_client_figures(c[one])
    assert_equals_full(merchant, NEXT_NIGHT)

    # the next night: a change back, a deletion, a client changed twice
    c["c"].refresh_from_db()
    c["c"].source, c["c"].source_detail = ClientSource.PROMO_CODE, "INSTA"
    c["c"].save()
    gone = ClientFactory(merchant=merchant, joined_at=at(date(2025, 1, 3)))
    Client.objects.filter(pk=c["b"].pk).update(source_detail="One")
    Client.objects.filter(pk=c["b"].pk).update(source_detail="Two", joined_at=at(FIRST_NIGHT))
    assert DailySales.objects.filter(day=date(2025, 1, 10), channel="referral").count() == 1
    snap = assert_equals_full(merchant, THIRD_NIGHT)
    # the new day and c's day (its row left without a figure) rewritten; b's figures moved out
    # of the row that keeps d's, its day not rewritten
    assert snap.timings["days"] == 2
    assert snap.members_state["clients_seen_id"] >= gone.pk  # counted: its deletion is a change
    gone.delete()
    assert_equals_full(merchant, THIRD_NIGHT + timedelta(days=1))


def test_clients_recorded_within_the_window_count_once(small_merchant, monkeypatch):
    merchant = small_merchant
    monkeypatch.setattr(metrics, "ROLLUP_MIN_PURCHASES", 0)
    Client.objects.update(created_at=timezone.now() - timedelta(hours=1))
    reports_refresh(merchant=merchant, today=FIRST_NIGHT)
    # recorded just now: after the clients' mark (10 minutes), counted provisionally
    late = ClientFactory(merchant=merchant, source="platform", joined_at=at(date(2025, 1, 25)))
    snap = reports_refresh(merchant=merchant, today=NEXT_NIGHT)
    assert snap.members_state["clients_seen_id"] < late.pk
    assert snap.members_state["provisional"] == [["2025-01-25", "platform", "", 1]]
    Client.objects.filter(pk=late.pk).update(source="organic", joined_at=at(date(2025, 1, 26)))
    incremental = reports_refresh(merchant=merchant, today=THIRD_NIGHT)
    rows = members_rows(merchant)
    # the mark passes it: counted as it is now, once
    monkeypatch.setattr(rollup, "MARK_WINDOW", timedelta(0))
    settled = reports_refresh(merchant=merchant, today=THIRD_NIGHT)
    assert settled.members_state == {"clients_seen_id": late.pk, "provisional": []}
    assert members_rows(merchant) == rows
    full = reports_refresh(merchant=merchant, today=THIRD_NIGHT, full=True)
    assert members_rows(merchant) == rows
    assert incremental.clients == settled.clients == full.clients
    assert (date(2025, 1, 26), "organic", "", 1) in rows


def test_a_merchant_without_a_snapshot_records_no_change(small_merchant):
    c = small_merchant.clients_by_name
    Client.objects.filter(pk=c["a"].pk).update(source_detail="X")
    assert not ClientChange.objects.exists()
    ReportSnapshot.objects.create(merchant=small_merchant, refreshed_at=at(FIRST_NIGHT))
    Client.objects.filter(pk=c["a"].pk).update(source_detail="Y", full_name="Z")
    Client.objects.filter(pk=c["a"].pk).update(full_name="not a channel key", balance=5)
    Client.objects.filter(pk=c["b"].pk).update(referred_by=c["c"])
    Client.objects.filter(pk=c["d"].pk).update(referred_by=c["a"])  # still referred
    f_pk = c["f"].pk
    c["f"].delete()
    recorded = list(
        ClientChange.objects.order_by("pk").values_list("client_id", "source_detail", "referred_by")
    )
    assert recorded == [(c["a"].pk, "X", None), (c["b"].pk, "", None), (f_pk, "", None)]


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_a_refresh_holds_up_only_its_own_merchants_channel_changes():
    """While one merchant's refresh holds its changes lock, a channel change of that merchant's
    client waits for it; another merchant's client changes at once."""
    mine, other = MerchantFactory(), MerchantFactory()
    for merchant in (mine, other):
        ReportSnapshot.objects.create(merchant=merchant, refreshed_at=timezone.now())
    my_client, other_client = ClientFactory(merchant=mine), ClientFactory(merchant=other)
    locked, release = threading.Event(), threading.Event()

    def refresh_holding_the_lock():
        try:
            with transaction.atomic():
                members.lock_changes(mine)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    holder = threading.Thread(target=refresh_holding_the_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            Client.objects.filter(pk=other_client.pk).update(source_detail="moved")
        with pytest.raises(OperationalError), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '300ms'")
            Client.objects.filter(pk=my_client.pk).update(source_detail="moved")
    finally:
        release.set()
        holder.join(10)
    Client.objects.filter(pk=my_client.pk).update(source_detail="moved")
    assert sorted(ClientChange.objects.values_list("client_id", flat=True)) == sorted(
        [my_client.pk, other_client.pk]
    )


def test_a_deleted_merchant_leaves_no_change_rows(db):
    gone, other = MerchantFactory(), MerchantFactory()
    for merchant in (gone, other):
        ReportSnapshot.objects.create(merchant=merchant, refreshed_at=timezone.now())
    ClientFactory.create_batch(3, merchant=gone)
    kept = ClientFactory(merchant=other)
    Client.objects.filter(merchant__in=[gone, other]).update(source_detail="moved")
    assert ClientChange.objects.filter(merchant_id=gone.pk).count() == 3
    gone_id = gone.pk
    gone.delete()  # its clients' deletion records rows while its snapshot still exists
    assert not ClientChange.objects.filter(merchant_id=gone_id).exists()
    assert list(ClientChange.objects.values_list("client_id", flat=True)) == [kept.pk]
