"""The POS refund's cost: an Evotor PAYBACK of a known sale is one transaction, its event
row inside it.

On PostgreSQL a line refund is 8 statements with BEGIN and COMMIT (was 23): the token, the
context look-up (the store check), the sale read with any refund already under this id and
the sale's own ledger movements, BEGIN, the lock of the clients the sale paid (with the
program's fingerprint), the purchase locked with its lines, one statement writing the
refund, its ledger entries, the refunded lines and purchase, the client figures and the
event row (data-modifying CTEs), and COMMIT. A refund completing the sale adds the look-up
of the certificates it caused. Elsewhere (SQLite) each write is a statement of its own.
Savepoints are the test's own transaction at work; in production they are BEGIN and COMMIT."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import LedgerEntry, Purchase, Refund
from loyalty.pos.models import PosEvent
from tests.factories import ClientFactory
from tests.loyalty.test_pos import payback_document, put_documents, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

BUDGET_POSTGRESQL = 8  # BEGIN and COMMIT included
BUDGET_PORTABLE = 14  # BEGIN and COMMIT excluded


def _statements(sql: list[str]) -> int:
    """Statements as production sends them: a prepared statement is prepared once per
    connection, then only executed."""
    if connection.vendor == "postgresql":
        return len([s for s in sql if not s.startswith("PREPARE ")])
    return len([s for s in sql if not s.startswith(("SAVEPOINT", "RELEASE"))])


def _measured(client, document):
    with CaptureQueriesContext(connection) as ctx:
        response = put_documents(client, document)
    assert response.json()["status"] == "accepted"
    return [q["sql"] for q in ctx.captured_queries]


def _warm(client, rustore):  # noqa: F811
    member = ClientFactory(merchant=rustore, phone="+79181234567")
    put_documents(client, sell_document(doc_id="warm-up"))  # the program enters the cache
    put_documents(client, payback_document(doc_id="warm-up-back", base="warm-up"))
    put_documents(client, sell_document())
    return member


def test_an_evotor_line_refund_costs_eight_statements_on_postgresql(client, rustore):  # noqa: F811
    member = _warm(client, rustore)
    sql = _measured(client, payback_document())
    budget = BUDGET_POSTGRESQL if connection.vendor == "postgresql" else BUDGET_PORTABLE
    assert _statements(sql) <= budget, "\n".join(sql)
    refund = Refund.objects.get(external_id__endswith="7d8e9f00-0000-4000-8000-000000000002")
    assert refund.amount == 1600
    event = PosEvent.objects.get(external_id=refund.external_id)
    assert (event.refund_id, event.purchase_id, event.status) == (
        refund.pk,
        refund.purchase_id,
        PosEvent.Status.ACCEPTED,
    )
    member.refresh_from_db()
    assert member.balance == sum(e.points for e in LedgerEntry.objects.filter(client=member))
    # One transaction: every statement after the sale read lies inside it, the event row's too.
    opened = next(i for i, s in enumerate(sql) if s.startswith("SAVEPOINT"))
    name = sql[opened].split()[-1]
    released = next(i for i, s in enumerate(sql) if s.startswith("RELEASE") and name in s)
    assert released == len(sql) - 1, "\n".join(sql)
    assert not any("loyalty_posevent" in s for s in sql[:opened]), "\n".join(sql)


def test_a_full_refund_adds_only_its_certificate_look_up(client, rustore):  # noqa: F811
    _warm(client, rustore)
    document = payback_document()
    document["body"]["positions"] = []
    document["body"].update(sum=31600, result_sum=31600)
    sql = _measured(client, document)
    budget = BUDGET_POSTGRESQL if connection.vendor == "postgresql" else BUDGET_PORTABLE
    assert _statements(sql) <= budget + 1, "\n".join(sql)
    refund = Refund.objects.get(external_id__endswith="7d8e9f00-0000-4000-8000-000000000002")
    purchase = Purchase.objects.get(pk=refund.purchase_id)
    assert refund.amount == purchase.amount == purchase.refunded_amount


def test_a_repeated_refund_writes_nothing_but_its_duplicate_event(client, rustore):  # noqa: F811
    member = _warm(client, rustore)
    _measured(client, payback_document())
    member.refresh_from_db()
    before = (member.balance, member.ledger.count(), Refund.objects.count())
    response = put_documents(client, payback_document())
    assert response.json()["status"] == "duplicate"
    member.refresh_from_db()
    assert (member.balance, member.ledger.count(), Refund.objects.count()) == before
    statuses = sorted(
        PosEvent.objects.filter(external_id__endswith="8000-000000000002").values_list(
            "status", flat=True
        )
    )
    assert statuses == ["accepted", "duplicate"]
