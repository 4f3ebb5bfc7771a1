"""The POS path's cost: a sale from Evotor is one transaction, its event row inside it.

On PostgreSQL it is 6 statements with BEGIN and COMMIT (issue 12: 17; then 10): the token,
the context look-up (branch, cashier, client, waiting refunds), BEGIN, the engine's lock
(clients, referrers, the program's fingerprint), one statement writing the purchase, its
lines, the ledger entries, the client figures and the event row (data-modifying CTEs), and
COMMIT — 5 while the web process keeps the token's merchant (`loyalty.pos.tokens`, 2 s),
so the budget holds either way. Elsewhere (SQLite) the writes are one statement each: at
most 8 without the transaction's brackets. Savepoints are the test's own transaction at work; in production
they are the transaction's BEGIN and COMMIT."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import Purchase
from loyalty.pos.models import PosEvent
from tests.factories import ClientFactory
from tests.loyalty.test_pos import put_documents, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

BUDGET_POSTGRESQL = 6  # BEGIN and COMMIT included
BUDGET_PORTABLE = 8  # BEGIN and COMMIT excluded


def _measured_sale(client):
    put_documents(client, sell_document(doc_id="warm-up"))  # the program enters the cache
    with CaptureQueriesContext(connection) as ctx:
        response = put_documents(client, sell_document(doc_id="measured"))
    assert response.json()["status"] == "accepted"
    return [q["sql"] for q in ctx.captured_queries]


def test_an_evotor_sale_costs_six_statements_on_postgresql_eight_elsewhere(client, rustore):  # noqa: F811
    ClientFactory(merchant=rustore, phone="+79181234567")
    sql = _measured_sale(client)
    purchase = Purchase.objects.get(external_id__endswith="measured")
    assert purchase.points_accrued > 0
    assert purchase.lines.count() == 2
    assert PosEvent.objects.get(external_id__endswith="measured").purchase_id == purchase.pk
    if connection.vendor == "postgresql":
        assert len(sql) <= BUDGET_POSTGRESQL, "\n".join(sql)
    else:
        own = [s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE"))]
        assert len(own) <= BUDGET_PORTABLE, "\n".join(sql)
    # One transaction: the statements after the context look-up all lie inside the engine's
    # atomic block (between its savepoint and the release), the event row's included.
    opened = next(i for i, s in enumerate(sql) if s.startswith("SAVEPOINT"))
    name = sql[opened].split()[-1]
    released = next(i for i, s in enumerate(sql) if s.startswith("RELEASE") and name in s)
    assert released == len(sql) - 1, "\n".join(sql)
    assert not any("loyalty_posevent" in s for s in sql[:opened]), "\n".join(sql)
    if connection.vendor != "postgresql":
        event = next(i for i, s in enumerate(sql) if s.startswith('INSERT INTO "loyalty_posevent"'))
        assert opened < event < released, "\n".join(sql)


def test_a_repeated_sale_writes_nothing_but_its_duplicate_event(client, rustore):  # noqa: F811
    """The one-statement write is all or nothing: a repeat of the document adds no purchase,
    line, ledger entry or figure, and logs the repeat."""
    member = ClientFactory(merchant=rustore, phone="+79181234567")
    _measured_sale(client)
    member.refresh_from_db()
    before = (member.balance, member.purchases_count, member.ledger.count())
    response = put_documents(client, sell_document(doc_id="measured"))
    assert response.json()["status"] == "duplicate"
    member.refresh_from_db()
    assert (member.balance, member.purchases_count, member.ledger.count()) == before
    assert Purchase.objects.filter(external_id__endswith="measured").count() == 1
    statuses = sorted(
        PosEvent.objects.filter(external_id__endswith="measured").values_list("status", flat=True)
    )
    assert statuses == ["accepted", "duplicate"]
