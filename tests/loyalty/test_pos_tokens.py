"""The Evotor token's merchant kept per process (`loyalty.pos.tokens`): a document's look-up
is saved while the token is unchanged, and a token replaced or withdrawn stops working — at
once in the process that changed it, within EVOTOR_TOKEN_CACHE_SECONDS in any other (a
change the process did not see: an UPDATE without the model's signals, as another
process's save looks from here)."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from loyalty.pos import tokens
from loyalty.pos.evotor import token_hash
from loyalty.pos.models import PosEvent
from onboarding.models import Merchant
from tests.loyalty.test_pos import APP_TOKEN, TOKEN, USER, put_documents, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def _token_lookups(ctx) -> int:
    """Statements that look the token up (a first `PREPARE` of the look-up on a connection
    is its planning, not a look-up)."""
    sql = [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith("PREPARE")]
    digest = token_hash(TOKEN)
    return sum(1 for s in sql if "evotor_token_hash" in s or ("EXECUTE" in s and digest in s))


def _status(response):
    return response.status_code, response.json()["status"]


def test_a_kept_token_needs_no_lookup_until_it_expires(client, rustore, settings, monkeypatch):  # noqa: F811
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 2
    now = [1000.0]
    monkeypatch.setattr(tokens.time, "monotonic", lambda: now[0])
    with CaptureQueriesContext(connection) as first:
        assert _status(put_documents(client, sell_document(doc_id="a"))) == (200, "accepted")
    with CaptureQueriesContext(connection) as kept:
        assert _status(put_documents(client, sell_document(doc_id="b"))) == (200, "accepted")
    now[0] += 2.5
    with CaptureQueriesContext(connection) as expired:
        assert _status(put_documents(client, sell_document(doc_id="c"))) == (200, "accepted")
    assert (_token_lookups(first), _token_lookups(kept), _token_lookups(expired)) == (1, 0, 1)
    # The same steady-state sale, with and without the look-up: one statement apart.
    assert len(kept.captured_queries) == len(expired.captured_queries) - 1


def test_a_reissued_token_stops_working_at_once_in_this_process(client, rustore, settings):  # noqa: F811
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 60
    assert _status(put_documents(client, sell_document(doc_id="a"))) == (200, "accepted")
    issued = client.post(
        "/pos/evotor/user/verify",
        json.dumps({"userUuid": USER}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {APP_TOKEN}"},
    )
    new_token = issued.json()["token"]
    refused = put_documents(client, sell_document(doc_id="b"))
    assert _status(refused) == (401, "unauthorized")
    assert not PosEvent.objects.filter(external_id__endswith=":b").exists()
    accepted = put_documents(client, sell_document(doc_id="c"), token=new_token)
    assert _status(accepted) == (200, "accepted")


def test_a_merchant_saved_or_deleted_is_forgotten(client, rustore, settings):  # noqa: F811
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 60
    assert _status(put_documents(client, sell_document(doc_id="a"))) == (200, "accepted")
    rustore.evotor_token_hash = ""  # the admin withdraws the POS credentials
    rustore.save()
    assert put_documents(client, sell_document(doc_id="b")).status_code == 401


def test_a_change_made_elsewhere_holds_at_most_the_cache_time(
    client,
    rustore,  # noqa: F811
    settings,
    monkeypatch,
):
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 2
    now = [1000.0]
    monkeypatch.setattr(tokens.time, "monotonic", lambda: now[0])
    assert _status(put_documents(client, sell_document(doc_id="a"))) == (200, "accepted")
    # Another process re-issues the token: this one sees no signal.
    Merchant.objects.filter(pk=rustore.pk).update(evotor_token_hash=token_hash("re-issued"))
    now[0] += 1.9
    assert _status(put_documents(client, sell_document(doc_id="b"))) == (200, "accepted")
    now[0] += 0.2
    assert put_documents(client, sell_document(doc_id="c")).status_code == 401
    assert _status(put_documents(client, sell_document(doc_id="d"), token="re-issued")) == (
        200,
        "accepted",
    )


def test_an_unknown_token_is_never_kept(client, rustore, settings):  # noqa: F811
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 60
    assert put_documents(client, sell_document(doc_id="a"), token="next").status_code == 401
    Merchant.objects.filter(pk=rustore.pk).update(evotor_token_hash=token_hash("next"))
    assert _status(put_documents(client, sell_document(doc_id="b"), token="next")) == (
        200,
        "accepted",
    )


def test_zero_seconds_looks_the_token_up_every_time(client, rustore, settings):  # noqa: F811
    settings.EVOTOR_TOKEN_CACHE_SECONDS = 0
    for doc_id in ("a", "b"):
        with CaptureQueriesContext(connection) as ctx:
            assert _status(put_documents(client, sell_document(doc_id=doc_id))) == (
                200,
                "accepted",
            )
        assert _token_lookups(ctx) == 1
    Merchant.objects.filter(pk=rustore.pk).update(evotor_token_hash="")
    assert put_documents(client, sell_document(doc_id="c")).status_code == 401


def test_each_request_builds_its_own_merchant(client, rustore, settings, monkeypatch):  # noqa: F811
    """A kept row, not a kept instance: what one request caches on its merchant (related
    rows, attributes) never reaches the next."""
    from loyalty.pos import evotor  # the look-up itself, without a request around it

    settings.EVOTOR_TOKEN_CACHE_SECONDS = 60
    header = f"Bearer {TOKEN}"
    first = evotor.merchant_for_token(header, user_id=USER)
    second = evotor.merchant_for_token(header, user_id=USER)
    assert first == second and first is not second
