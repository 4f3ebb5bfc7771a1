"""POS webhooks through the WSGI application as a server runs it (config.wsgi): `/pos/…`
takes the short middleware chain (`POS_MIDDLEWARE`) and answers as through the portal's."""

import io
import json

import pytest

from config import wsgi
from loyalty.models import Purchase
from loyalty.pos.models import PosEvent
from tests.factories import ClientFactory
from tests.loyalty.test_pos import STORE, TOKEN, USER, sell_document
from tests.loyalty.test_pos import rustore as rustore  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db(transaction=True)


def call(path, body=b"", method="PUT", token=TOKEN):
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "HTTP_HOST": "testserver",
        "wsgi.input": io.BytesIO(body),
        "CONTENT_LENGTH": str(len(body)),
        "CONTENT_TYPE": "application/json",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_EVOTOR_USER_ID": USER,
        "HTTP_ACCEPT_LANGUAGE": "en",
        "wsgi.url_scheme": "http",
        "wsgi.errors": io.StringIO(),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    status = []
    result = wsgi.application(environ, lambda s, headers: status.append((s, dict(headers))))
    try:
        data = b"".join(result)
    finally:
        result.close()
    return int(status[0][0].split()[0]), status[0][1], data


DOCUMENTS = f"/pos/evotor/api/v1/inventories/stores/{STORE}/documents"


def test_the_pos_chain_is_short_and_the_portal_keeps_its_own():
    pos = [type(m).__name__ for m in _chain(wsgi.pos_application)]
    portal = [type(m).__name__ for m in _chain(wsgi.portal_application)]
    for dropped in ("SessionMiddleware", "AuthenticationMiddleware", "AxesMiddleware"):
        assert dropped in portal and dropped not in pos
    assert "LocaleMiddleware" in pos  # messages stay in the portal's language


def _chain(handler):
    """The middleware instances of a handler, outermost first."""
    found, current = [], handler._middleware_chain
    while current is not None:
        current = getattr(current, "__wrapped__", current)
        middleware = getattr(current, "get_response", None)
        if middleware is None:
            break
        found.append(current)
        current = middleware
    return found


def test_a_sale_through_the_wsgi_application(rustore):  # noqa: F811
    ClientFactory(merchant=rustore, phone="+79181234567")
    body = json.dumps(sell_document(doc_id="wsgi-1")).encode()
    status, headers, data = call(DOCUMENTS, body)
    assert status == 200 and json.loads(data)["status"] == "accepted"
    assert headers["Content-Type"] == "application/json"
    assert "Set-Cookie" not in headers  # no session on the webhook path
    assert Purchase.objects.filter(external_id__endswith="wsgi-1").exists()
    # A repeat is answered "duplicate" and writes nothing.
    status, _headers, data = call(DOCUMENTS, body)
    assert json.loads(data)["status"] == "duplicate"
    assert Purchase.objects.filter(external_id__endswith="wsgi-1").count() == 1
    assert PosEvent.objects.filter(external_id__endswith="wsgi-1").count() == 2


def test_refusals_through_the_wsgi_application(rustore):  # noqa: F811
    status, _h, data = call(DOCUMENTS, b"{not json")
    assert status == 400
    status, _h, data = call(DOCUMENTS, json.dumps(sell_document()).encode(), token="wrong")
    assert status == 401 and json.loads(data)["status"] == "unauthorized"
    status, _h, _data = call("/pos/nosuchpos/", b"{}", method="POST")
    assert status == 404
    status, _h, _data = call(DOCUMENTS, b"", method="GET")
    assert status == 405
