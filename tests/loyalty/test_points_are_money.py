"""Issue 12 "Points are money", with the issue's numbers: refunds undo exactly what the
returned items did, a full refund undoes the purchase's consequences, the referral base, the
certificate's remaining value, the till as the record, enrolment at the till, one key one
result, and one home for every ledger write."""

import re
from decimal import Decimal as D
from pathlib import Path

import pytest

from crm.models import Client, ClientSource
from loyalty.models import Certificate, LedgerEntry, LedgerKind, Program, Purchase, Refund
from loyalty.pos.models import PosEvent
from loyalty.services.adjustments import points_adjust
from loyalty.services.errors import IdempotencyConflict
from loyalty.services.lines import LineInput
from loyalty.services.refunds import refund_record
from tests.factories import CertificateFactory, ClientFactory, MemberFactory, reference_merchant
from tests.loyalty.test_engine import assert_ledger_exact, buy, chain
from tests.loyalty.test_pos import (
    APP_ID,
    hook,
    post_hook,
    put_documents,
    sell_document,
)
from tests.loyalty.test_pos import fake_poster as fake_poster  # noqa: F401  (fixtures)
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401
from tests.loyalty.test_pos import tbilisi as tbilisi  # noqa: F401

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def zolotoff():
    return reference_merchant("zolotoff")


def rich(merchant, points="10000", **kw):
    client = ClientFactory(merchant=merchant, **kw)
    points_adjust(merchant=merchant, client=client, points=D(points), reason="test", user=None)
    return Client.objects.get(pk=client.pk)


def balance(client):
    return Client.objects.get(pk=client.pk).balance


# --- 1. A returned line is refunded as itself, not as a slice of the check ------------------


@pytest.mark.parametrize("promo_earns, promo_cashback", [(True, D(600)), (False, D(0))])
def test_1_returning_the_promo_line_gives_no_points_back(zolotoff, promo_earns, promo_cashback):
    Program.objects.filter(merchant=zolotoff).update(promo_earns_points=promo_earns)
    buyer = rich(zolotoff)
    # 100 000 = 80 000 regular + 20 000 promo, 3 000 points paid (only regular items).
    sale = buy(
        zolotoff, buyer, "100000", excluded_amount=D(20000), points_to_redeem=D(3000)
    ).purchase
    regular, promo = sale.lines.order_by("position")
    assert (regular.amount, regular.points_paid) == (D(80000), D(3000))
    assert (promo.amount, promo.promo, promo.points_paid) == (D(20000), True, D(0))
    assert promo.cashback == promo_cashback
    before = balance(buyer)
    # The cashier page names the amount and its promo part.
    result = refund_record(merchant=zolotoff, purchase=sale, amount=D(20000), promo_amount=D(20000))
    assert result.points_returned == D(0)
    assert result.points_reversed == promo_cashback
    assert balance(buyer) == before - promo_cashback
    assert_ledger_exact(zolotoff)


def test_1_evotor_payback_of_one_line_reverses_that_line(client, rustore):
    buyer = rich(rustore, phone="+79181234567")
    doc = sell_document(
        payments=[
            {"id": "p1", "sum": 28600, "type": "ELECTRON"},
            {"id": "p2", "sum": 3000, "type": "ELECTRON", "app_payment": {"app_id": APP_ID}},
        ]
    )
    put_documents(client, doc)
    sale = Purchase.objects.get()
    regular, promo = sale.lines.order_by("position")
    assert promo.promo and promo.points_paid == 0 and regular.points_paid == D(3000)
    payback = {
        "id": "7d8e9f00-0000-4000-8000-0000000000aa",
        "type": "PAYBACK",
        "store_id": doc["store_id"],
        "close_date": "2024-12-06T05:00:00.000+0000",
        "body": {
            "base_document_id": doc["id"],
            "positions": [dict(doc["body"]["positions"][1])],
            "result_sum": 1600,
        },
    }
    before = balance(buyer)
    assert put_documents(client, payback).json()["status"] == "accepted"
    refund = Refund.objects.get()
    assert refund.amount == D(1600) and refund.promo_amount == D(1600)
    entries = list(refund.ledger_entries.values_list("points", flat=True))
    assert entries == [-promo.cashback]  # its own cashback; no points come back
    assert balance(buyer) == before - promo.cashback
    assert_ledger_exact(rustore)


def test_1_poster_order_flag_with_one_line_returned_is_partial(client, tbilisi, fake_poster):  # noqa: F811
    ClientFactory(merchant=tbilisi, phone="+995555123456")
    post_hook(client, hook(action="closed"))
    fake_poster.transaction["print_fiscal"] = "2"  # the order flag …
    fake_poster.transaction["products"][1]["print_fiscal"] = "2"  # … and one line returned
    post_hook(client, hook())
    purchase = Purchase.objects.get()
    assert purchase.refunded_amount == D("17.00")  # the 17.00 line only, not the 27.50 check
    assert_ledger_exact(tbilisi)


# --- 2. A full refund undoes the purchase's consequences -----------------------------------


def test_2_full_refund_cancels_the_certificate_and_corrects_the_tier(
    zolotoff, django_capture_on_commit_callbacks
):
    buyer = MemberFactory(merchant=zolotoff)  # check-growth campaigns reward members
    with django_capture_on_commit_callbacks(execute=True):
        sale = buy(zolotoff, buyer, "40000").purchase  # check growth ≥ 15 000; tier 2 at 30 000
    buyer.refresh_from_db()
    assert buyer.tier.position == 2
    certificate = Certificate.objects.get(client=buyer)
    assert certificate.status == Certificate.Status.ACTIVE and certificate.points == D(2000)
    result = refund_record(merchant=zolotoff, purchase=sale, amount=D(40000))
    assert result.certificates_cancelled == 1
    certificate.refresh_from_db()
    assert certificate.status == Certificate.Status.CANCELLED
    buyer.refresh_from_db()
    assert buyer.tier.position == 1 and buyer.total_spent == 0


def test_2_a_tier_set_by_hand_stays_after_a_refund(zolotoff):
    from loyalty.models import Tier
    from loyalty.services.tiers import client_tier_assign

    buyer = ClientFactory(merchant=zolotoff)
    sale = buy(zolotoff, buyer, "40000").purchase
    third = Tier.objects.get(program__merchant=zolotoff, position=3)
    client_tier_assign(merchant=zolotoff, client=buyer, tier=third)
    refund_record(merchant=zolotoff, purchase=sale, amount=D(40000))
    buyer.refresh_from_db()
    assert buyer.tier == third


# --- 3. Referral % of the check (the seeds' "от суммы чека") -------------------------------


def test_3_referral_of_the_check_amount_by_default(zolotoff):
    a, b, c, d = chain(zolotoff, 3)
    points_adjust(merchant=zolotoff, client=d, points=D(1000), reason="test", user=None)
    sale = buy(zolotoff, d, "20000", points_to_redeem=D(1000)).purchase
    got = dict(
        sale.ledger_entries.filter(kind=LedgerKind.REFERRAL).values_list("referral_level", "points")
    )
    assert got == {1: D(1000), 2: D(400), 3: D(200)}
    Program.objects.filter(merchant=zolotoff).update(referral_base="paid")
    points_adjust(merchant=zolotoff, client=d, points=D(1000), reason="test", user=None)
    sale = buy(zolotoff, d, "20000", points_to_redeem=D(1000)).purchase
    got = dict(
        sale.ledger_entries.filter(kind=LedgerKind.REFERRAL).values_list("referral_level", "points")
    )
    assert got == {1: D(950), 2: D(380), 3: D(190)}


def test_3_referral_rewards_follow_the_returned_lines(zolotoff):
    a, b, c, d = chain(zolotoff, 3)
    sale = buy(zolotoff, d, "20000", excluded_amount=D(5000)).purchase  # 1 000/400/200
    refund_record(merchant=zolotoff, purchase=sale, amount=D(5000), promo_amount=D(5000))
    assert (balance(a), balance(b)) == (D(150), D(300))  # a quarter of 200 and 400 gone
    refund_record(merchant=zolotoff, purchase=sale, amount=D(15000), promo_amount=D(0))
    assert (balance(a), balance(b), balance(c)) == (0, 0, 0)
    assert_ledger_exact(zolotoff)


# --- 4. A certificate keeps its remaining value; one certificate stays one -----------------


def test_4_two_partial_refunds_restore_the_same_certificate(zolotoff):
    buyer = ClientFactory(merchant=zolotoff)
    cert = CertificateFactory(client=buyer, points=D(1500), redemption_cap_percent=D(20))
    sale = buy(zolotoff, buyer, "10000", certificate=cert).purchase
    assert sale.certificate_redeemed == D(1500)
    refund_record(merchant=zolotoff, purchase=sale, amount=D(5000))
    refund_record(merchant=zolotoff, purchase=sale, amount=D(5000))
    assert Certificate.objects.filter(client=buyer).count() == 1
    cert.refresh_from_db()
    assert (cert.used_points, cert.status) == (D(0), Certificate.Status.ACTIVE)
    assert buy(zolotoff, buyer, "10000", certificate=cert).purchase.certificate_redeemed == D(1500)


def test_4_what_a_certificate_does_not_pay_stays_on_it(zolotoff):
    buyer = ClientFactory(merchant=zolotoff)
    cert = CertificateFactory(client=buyer, points=D(2000), redemption_cap_percent=D(20))
    assert buy(zolotoff, buyer, "5000", certificate=cert).purchase.certificate_redeemed == D(1000)
    cert.refresh_from_db()
    assert cert.remaining == D(1000) and cert.status == Certificate.Status.ACTIVE
    burns = CertificateFactory(
        client=buyer, points=D(2000), redemption_cap_percent=D(20), remainder_burns=True
    )
    buy(zolotoff, buyer, "5000", certificate=burns)
    burns.refresh_from_db()
    assert burns.status == Certificate.Status.REDEEMED


# --- 5. The till is the record --------------------------------------------------------------


def test_5_points_the_till_took_are_booked_and_flagged(client, rustore):
    buyer = rich(rustore, "600", phone="+79181234567")
    doc = sell_document(
        payments=[
            {"id": "p1", "sum": 500, "type": "ELECTRON"},
            {"id": "p2", "sum": 500, "type": "ELECTRON", "app_payment": {"app_id": APP_ID}},
        ]
    )
    doc["body"]["positions"] = [{"uuid": "l1", "quantity": 1, "result_sum": 1000}]
    doc["body"]["result_sum"] = 1000
    assert put_documents(client, doc).status_code == 200
    sale = Purchase.objects.get()
    # The cap is 10 % of 1 000 = 100; the till took 500: booked as taken, flagged, accrual
    # on the 500 paid in money (1 %).
    assert (sale.points_redeemed, sale.paid_money, sale.points_accrued) == (D(500), D(500), D(5))
    assert "cap" in sale.review_reason
    redemption = sale.ledger_entries.get(kind=LedgerKind.REDEMPTION)
    assert redemption.points == D(-500) and redemption.uncovered == 0
    assert balance(buyer) == D(105)
    assert_ledger_exact(rustore)


def test_5_points_beyond_the_balance_are_a_recorded_discrepancy(client, rustore):
    buyer = rich(rustore, "200", phone="+79181234567")
    doc = sell_document(
        payments=[
            {"id": "p1", "sum": 500, "type": "ELECTRON"},
            {"id": "p2", "sum": 500, "type": "ELECTRON", "app_payment": {"app_id": APP_ID}},
        ]
    )
    doc["body"]["positions"] = [{"uuid": "l1", "quantity": 1, "result_sum": 1000}]
    doc["body"]["result_sum"] = 1000
    put_documents(client, doc)
    sale = Purchase.objects.get()
    redemption = sale.ledger_entries.get(kind=LedgerKind.REDEMPTION)
    assert (redemption.points, redemption.uncovered) == (D(-200), D(300))
    assert "balance" in sale.review_reason
    assert balance(buyer) == D(5)  # 200 − 200 + 1 % of 500
    assert_ledger_exact(rustore)


# --- 6. A phone at the till enrols the buyer ------------------------------------------------


def test_6_a_new_phone_at_the_till_enrols_the_buyer(client, rustore):
    put_documents(client, sell_document(phone="+7 918 765-43-21"))
    buyer = Client.objects.get(merchant=rustore, phone="+79187654321")
    assert buyer.source == ClientSource.POS and buyer.joined_at is not None
    sale = Purchase.objects.get()
    assert sale.client == buyer and sale.points_accrued == D(316)
    assert buyer.balance == D(500) + D(316)  # welcome 500 + 1 % of 31 600
    assert_ledger_exact(rustore)


def test_6_enrolment_off_records_the_sale_without_a_client(client, rustore):
    Program.objects.filter(merchant=rustore).update(pos_enrols_buyers=False)
    put_documents(client, sell_document(phone="+7 918 765-43-21"))
    assert Purchase.objects.get().client is None
    assert not Client.objects.filter(phone="+79187654321").exists()


# --- 8 (issue's "one key, one result") ------------------------------------------------------


def test_one_key_other_content_is_a_logged_conflict(client, rustore):
    ClientFactory(merchant=rustore, phone="+79181234567")
    put_documents(client, sell_document())
    same = put_documents(client, sell_document())
    assert same.status_code == 200 and same.json()["status"] == "duplicate"
    other = sell_document()
    other["body"]["positions"][0]["result_sum"] = 29000
    other["body"]["result_sum"] = 30600
    answer = put_documents(client, other)
    assert answer.status_code == 200 and answer.json()["status"] == "conflict"
    assert Purchase.objects.count() == 1
    event = PosEvent.objects.filter(status=PosEvent.Status.CONFLICT).get()
    assert "other content" in event.message


def test_one_key_other_content_refused_on_the_cashier_path(zolotoff):
    buyer = ClientFactory(merchant=zolotoff)
    buy(zolotoff, buyer, "1000", external_id="req-1")
    assert buy(zolotoff, buyer, "1000", external_id="req-1").duplicate
    with pytest.raises(IdempotencyConflict):
        buy(zolotoff, buyer, "1200", external_id="req-1")
    with pytest.raises(IdempotencyConflict):
        buy(zolotoff, ClientFactory(merchant=zolotoff), "1000", external_id="req-1")
    with pytest.raises(IdempotencyConflict):
        buy(
            zolotoff,
            buyer,
            "1000",
            external_id="req-1",
            lines=[LineInput(amount=D(600)), LineInput(amount=D(400), promo=True)],
        )


# --- 8. One home for the ledger -------------------------------------------------------------

WRITES = re.compile(
    r"(?<!class )LedgerEntry\(|LedgerEntry\.objects\.(bulk_create|create|update)|"
    r"balance\s*=\s*F\(|SET balance|COPY .*ledger|INTO .*loyalty_ledgerentry|"
    r"LedgerEntry\._meta\.db_table"
)


def test_8_only_the_ledger_package_writes_points():
    offenders = []
    for path in [*ROOT.glob("loyalty/**/*.py"), *ROOT.glob("crm/**/*.py")]:
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(("loyalty/ledger/", "loyalty/migrations/", "crm/migrations/")):
            continue
        for number, text in enumerate(path.read_text().splitlines(), start=1):
            if WRITES.search(text):
                offenders.append(f"{rel}:{number}: {text.strip()}")
    assert offenders == []


def test_8_import_opening_balances_go_through_the_ledger(zolotoff):
    from django.db import transaction
    from django.utils import timezone

    from crm.importing.cleaning import Record
    from crm.importing.writer import ClientWriter

    Client.objects.create(merchant=zolotoff, phone="+79130000001")
    records = [
        Record(2, "+79130000002", "", None, "", "", "", "", D(700)),
        Record(3, "+79130000001", "", None, "", "", "", "", D(300)),
    ]
    writer = ClientWriter(
        merchant=zolotoff,
        overwrite=False,
        dry_run=False,
        user_id=None,
        reason="import",
        now=timezone.now(),
    )
    with transaction.atomic():
        out = writer.apply(records)
    assert out.opening_balances == 2
    with transaction.atomic():  # a re-import credits nothing twice
        assert writer.apply(records).opening_balances == 0
    assert LedgerEntry.objects.filter(kind=LedgerKind.OPENING_BALANCE).count() == 2
    assert_ledger_exact(zolotoff)
    assert sorted(Client.objects.values_list("balance", flat=True)) == [D(300), D(700)]


def test_1_payback_naming_unknown_lines_falls_back_to_its_amount(client, rustore):  # noqa: F811
    buyer = ClientFactory(merchant=rustore, phone="+79181234567")
    doc = sell_document()
    put_documents(client, doc)
    payback = {
        "id": "7d8e9f00-0000-4000-8000-0000000000bb",
        "type": "PAYBACK",
        "store_id": doc["store_id"],
        "close_date": "2024-12-06T05:00:00.000+0000",
        "body": {
            "base_document_id": doc["id"],
            "positions": [{"uuid": "never-sold", "quantity": 1, "result_sum": 1600}],
            "result_sum": 1600,
        },
    }
    assert put_documents(client, payback).json()["status"] == "accepted"
    assert Refund.objects.get().amount == D(1600)
    assert_ledger_exact(rustore)
    assert balance(buyer) < D(316)
