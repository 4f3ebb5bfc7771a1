"""The POS path's cost: a sale from Evotor is at most 8 SQL statements — authentication, the
context look-up, the engine's lock and writes, the event log (issue 12: it was 17) — and one
transaction: the event row is written inside the purchase's. Savepoints are the test's own
transaction at work; in production they are the transaction's BEGIN and COMMIT."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.models import Purchase
from tests.factories import ClientFactory
from tests.loyalty.test_pos import put_documents, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

BUDGET = 8


def test_an_evotor_sale_costs_at_most_eight_statements(client, rustore):  # noqa: F811
    ClientFactory(merchant=rustore, phone="+79181234567")
    put_documents(client, sell_document(doc_id="warm-up"))  # the program enters the cache
    with CaptureQueriesContext(connection) as ctx:
        response = put_documents(client, sell_document(doc_id="measured"))
    assert response.json()["status"] == "accepted"
    assert Purchase.objects.get(external_id__endswith="measured").points_accrued > 0
    statements = [
        q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))
    ]
    assert len(statements) <= BUDGET, "\n".join(statements)
    # The event row lies inside the engine's atomic block (between its savepoint and the
    # release, with the lock and the writes): one commit per sale. On PostgreSQL the engine's
    # writes are prepared statements (EXECUTE …), so they are counted, not named.
    sql = [q["sql"] for q in ctx.captured_queries]
    event = next(i for i, s in enumerate(sql) if s.startswith('INSERT INTO "loyalty_posevent"'))
    opened = [i for i, s in enumerate(sql[:event]) if s.startswith("SAVEPOINT")]
    assert opened, "\n".join(sql)
    name = sql[opened[0]].split()[-1]
    released = next(i for i, s in enumerate(sql) if s.startswith("RELEASE") and name in s)
    assert event < released, "\n".join(sql)
    assert len(sql[opened[0] + 1 : event]) >= 5, "\n".join(sql)  # lock + 4 writes at least
