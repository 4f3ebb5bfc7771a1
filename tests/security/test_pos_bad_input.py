"""POS webhooks: unauthenticated or unparsable requests are 401/400 — never a 500 — and
change nothing."""

import json

import pytest

from loyalty.models import Purchase

pytestmark = pytest.mark.django_db

BODIES = [b"", b"not json", b"[]", b"null", b"{}", b'{"a":', "\u00ff".encode("latin-1")]
# Valid JSON that json.loads still refuses: an integer over Python's 4300-digit limit
# (ValueError) and nesting deeper than the recursion limit (RecursionError).
HOSTILE_BODIES = [b"1" * 5000, b'{"a": ' + b"9" * 5000 + b"}", b"[" * 100000 + b"]" * 100000]
URLS = [
    "/pos/evotor/user/create",
    "/pos/evotor/user/verify",
    "/pos/evotor/api/v1/inventories/stores/abc-123/documents",
    "/pos/evotor/api/v2/receipts",
    "/pos/poster/",
]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("auth", ["", "Bearer nope", "Basic", "Bearer " + "x" * 5000])
def test_webhooks_refuse_garbage(client, world, settings, url, auth):
    settings.EVOTOR_APP_TOKEN = "app-token"
    before = Purchase.objects.count()
    for body in BODIES:
        headers = {"HTTP_AUTHORIZATION": auth} if auth else {}
        response = client.post(url, body, content_type="application/json", **headers)
        assert response.status_code in (400, 401, 405), (url, auth, body[:20], response.status_code)
    assert Purchase.objects.count() == before


def test_poster_bad_signature_and_types(client, world):
    merchant = world["a"]["merchant"]
    merchant.poster_account = "alpha"
    merchant.poster_client_secret = "secret"
    merchant.save()
    for payload in (
        {"account": "alpha", "object": "transaction", "object_id": "x", "action": "added",
         "time": "1", "verify": "0" * 32},
        {"account": ["alpha"], "object": {}, "object_id": None, "action": 1, "time": "t",
         "verify": []},
        {"account": "alpha", "object": "transaction", "object_id": "1" * 400, "action": "added",
         "time": "1", "verify": "x", "data": "{not json"},
    ):  # fmt: skip
        response = client.post("/pos/poster/", json.dumps(payload), content_type="application/json")
        assert response.status_code in (400, 401), (payload, response.status_code)


@pytest.mark.parametrize("url", ["/pos/evotor/api/v2/receipts", "/pos/poster/"])
def test_webhooks_refuse_hostile_json(client, world, url):
    for body in HOSTILE_BODIES:
        response = client.post(url, body, content_type="application/json")
        assert response.status_code in (400, 401), (url, body[:20], response.status_code)
