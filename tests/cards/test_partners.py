"""Partner certificate codes: a batch, single use (also under concurrency), enrolment with
the partner as source, the till path, the CSV export and the dashboard summary."""

import csv
import io
import threading
from decimal import Decimal

import pytest
from django.db import connection

from cards import services
from cards.errors import CardError
from cards.models import PartnerCode
from cards.partners import (
    partner_batch_create,
    partner_code_redeem,
    partner_codes_csv,
    partner_enrol_at_till,
)
from crm.models import Client
from loyalty.models import Certificate
from reports.partners import partner_summary
from tests.conftest import requires_postgres
from tests.factories import ClientFactory, MerchantFactory


def batch_for(merchant, size=5, name="Салон «Лилия»"):
    return partner_batch_create(
        merchant=merchant,
        partner_name=name,
        size=size,
        points=Decimal(500),
        valid_days=30,
        redemption_cap_percent=Decimal(20),
    )


def test_batch_has_unique_codes_and_a_campaign(merchant):
    batch = batch_for(merchant, size=200)
    codes = list(batch.codes.values_list("code", flat=True))
    assert len(codes) == len(set(codes)) == 200
    assert batch.campaign.kind == "partner_certificate" and batch.campaign.partner_name
    with pytest.raises(CardError):
        batch_for(merchant, size=0)
    with pytest.raises(CardError):
        batch_for(merchant, name="  ")


def test_join_with_code_enrols_with_partner_source(program, merchant):
    batch = batch_for(merchant)
    code = batch.codes.first()
    outcome = services.card_join(
        merchant=merchant,
        phone="+79130000001",
        consent=True,
        channel="partner",
        partner_code=code.code.lower(),
    )
    client = outcome.client
    assert (client.source, client.source_detail) == ("partner", "Салон «Лилия»")
    cert = outcome.certificate
    assert cert.points == Decimal(500) and cert.redemption_cap_percent == Decimal(20)
    code.refresh_from_db()
    assert code.redeemed_by == client and code.certificate == cert and code.redeemed_via == "card"


def test_code_is_single_use(program, merchant):
    batch = batch_for(merchant)
    code = batch.codes.first().code
    first = ClientFactory(merchant=merchant)
    second = ClientFactory(merchant=merchant)
    partner_code_redeem(merchant=merchant, code=code, client=first, via="card")
    with pytest.raises(CardError, match="already been used"):
        partner_code_redeem(merchant=merchant, code=code, client=second, via="card")
    # One certificate per client per batch, even with another code.
    with pytest.raises(CardError, match="already have"):
        partner_code_redeem(
            merchant=merchant, code=batch.codes.last().code, client=first, via="card"
        )
    assert Certificate.objects.count() == 1


def test_code_of_another_merchant_is_unknown(program, merchant):
    other = MerchantFactory()
    code = batch_for(other).codes.first().code
    with pytest.raises(CardError, match="No such"):
        partner_code_redeem(
            merchant=merchant, code=code, client=ClientFactory(merchant=merchant), via="card"
        )


def test_till_enrols_new_client_and_counts_on_dashboard(program, merchant):
    batch = batch_for(merchant)
    client, cert = partner_enrol_at_till(
        merchant=merchant, phone="+79130000009", code=batch.codes.first().code
    )
    assert client.joined_at and client.source == "partner" and cert.client == client
    from loyalty.services.purchases import purchase_record

    purchase_record(
        merchant=merchant,
        client=client,
        amount=Decimal(1000),
        payment_type="card",
        external_id="p1",
        source="cashier",
    )
    rows = partner_summary(merchant=merchant, start=None, end=merchant.local_today())
    assert rows == [
        {
            "name": "Салон «Лилия»",
            "clients": 1,
            "joined": 1,
            "buyers": 1,
            "purchases": 1,
            "revenue": Decimal("1000.00"),
        }
    ]


def test_till_refuses_used_code_and_creates_nobody(program, merchant):
    batch = batch_for(merchant)
    code = batch.codes.first().code
    partner_enrol_at_till(merchant=merchant, phone="+79130000009", code=code)
    with pytest.raises(CardError):
        partner_enrol_at_till(merchant=merchant, phone="+79130000010", code=code)
    assert not Client.objects.filter(phone="+79130000010").exists()


def test_csv_escapes_formulas(program, merchant):
    batch = batch_for(merchant, size=2, name="=HYPERLINK(1)")
    partner_code_redeem(
        merchant=merchant,
        code=batch.codes.first().code,
        client=ClientFactory(merchant=merchant, phone="+79130000005"),
        via="till",
    )
    rows = list(csv.reader(io.StringIO(partner_codes_csv(batch=batch))))
    assert rows[1][0] == "'=HYPERLINK(1)"
    assert rows[1][3] == "+79130000005"
    assert len(rows) == 3


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_redemptions_of_one_code_give_one_certificate():
    from loyalty.program import TierSpec, program_configure

    merchant = MerchantFactory()
    program_configure(
        merchant=merchant, tiers=[TierSpec("Base", Decimal(3), Decimal(10), Decimal(0))]
    )
    code = batch_for(merchant).codes.first().code
    clients = [ClientFactory(merchant=merchant) for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    results = []

    def redeem(client):
        try:
            barrier.wait()
            partner_code_redeem(merchant=merchant, code=code, client=client, via="card")
            results.append("ok")
        except CardError:
            results.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=redeem, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ok"] + ["refused"] * 5
    assert Certificate.objects.filter(merchant=merchant).count() == 1
    assert PartnerCode.objects.filter(code=code, redeemed_by__isnull=False).count() == 1
