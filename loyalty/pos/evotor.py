"""Evotor: the user-token handshake and the terminal documents (SELL, PAYBACK) it pushes.

Shapes follow Evotor's documentation (see docs/engine.md, "POS webhooks"): webhook-requests
(`/user/create`, `/user/verify`) carry our application token; notifications carry the user
token we issued, as `Authorization: Bearer <token>`. A document's `id` (with its store) is
the idempotency key; PAYBACK links its sale by `body.base_document_id`."""

import hashlib
import hmac
import secrets
from datetime import UTC, datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection

from loyalty.models import PurchaseSource
from loyalty.services import prepared
from loyalty.services.lines import LineInput, RefundLineInput, allocate
from loyalty.services.locking import instance_from_row
from onboarding.models import Branch, Merchant

from . import receipt as receipt_kinds
from . import tokens
from .common import BadRequest, Outcome, Unauthorized, money, only_one, text
from .models import PosEvent
from .receipt import CARD, CASH, OTHER, POINTS, Receipt, receipt_check, receipt_record

SALE, REFUND = "SELL", "PAYBACK"
CARD_TYPES = {"ELECTRON", "CARD", "PAY_CARD", "CASHLESS"}
CASH_TYPES = {"CASH", "PAY_CASH"}


def app_token() -> str:
    """The application token entered in Evotor's developer portal (for webhook-requests)."""
    return settings.EVOTOR_APP_TOKEN


def app_id() -> str:
    """Our terminal app's uuid: payments made by it are points paid."""
    return settings.EVOTOR_APP_ID


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _auth_value(header: str) -> str:
    scheme, _sep, value = (header or "").strip().partition(" ")
    if scheme.lower() not in ("bearer", "basic") or not value.strip():
        raise Unauthorized("missing or malformed Authorization header")
    return value.strip()


def check_app_token(header: str) -> None:
    """Webhook-requests: the Authorization value must be our application token."""
    expected = app_token()
    if not expected:
        raise Unauthorized("EVOTOR_APP_TOKEN is not configured")
    if not hmac.compare_digest(_auth_value(header).encode(), expected.encode()):
        raise Unauthorized("bad application token")


_SQL: list[str] = []


def _by_token_sql() -> str:
    """Every request of a store runs it: hand-written, it skips the ORM's compile (most of
    its cost). At most two rows: one token names one merchant (`only_one`)."""
    if not _SQL:
        qn = connection.ops.quote_name
        columns = ", ".join(qn(f.column) for f in Merchant._meta.concrete_fields)
        _SQL.append(
            f"SELECT {columns} FROM {qn(Merchant._meta.db_table)} "
            "WHERE evotor_token_hash = %s LIMIT 2"
        )
    return _SQL[0]


def _merchant_row(digest: str) -> tuple | None:
    if (row := tokens.cached(digest)) is not None:
        return row
    with connection.cursor() as cursor:
        prepared.execute(cursor, _by_token_sql(), [digest])  # planned once per connection
        rows = cursor.fetchall()
    if len(rows) != 1:
        return None
    tokens.keep(digest, rows[0])
    return rows[0]


def merchant_for_token(header: str, *, user_id: str | None = None) -> Merchant:
    """Notifications: the merchant whose issued user token this is (constant-time compare).
    The merchant's row may come from this process's cache, at most
    EVOTOR_TOKEN_CACHE_SECONDS old (`loyalty.pos.tokens`)."""
    token = _auth_value(header)
    digest = token_hash(token)
    row = _merchant_row(digest)
    merchant = instance_from_row(Merchant, row) if row is not None else None
    if merchant is None or not hmac.compare_digest(merchant.evotor_token_hash, digest):
        raise Unauthorized("unknown token")
    if user_id and merchant.evotor_user_id and user_id != merchant.evotor_user_id:
        raise Unauthorized("the token belongs to another Evotor user")
    return merchant


def user_token_issue(body) -> tuple[Merchant, dict]:
    """`/user/create` and `/user/verify`: issue a fresh user token for the merchant whose
    Evotor user id is `userUuid`/`userId`; only its hash is kept."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    user_id = str(body.get("userUuid") or body.get("userId") or "").strip()
    if not user_id:
        raise BadRequest("userUuid is required")
    text(user_id, what="userUuid", max_length=Merchant._meta.get_field("evotor_user_id").max_length)
    merchant = only_one(Merchant.objects.filter(evotor_user_id=user_id))
    if merchant is None:
        raise Unauthorized("unknown Evotor user: enter it in the merchant's POS credentials")
    token = secrets.token_urlsafe(32)
    merchant.evotor_token_hash = token_hash(token)
    merchant.save(update_fields=["evotor_token_hash", "updated_at"])
    return merchant, {"userId": user_id, "token": token}


def parse_time(value, offset_ms=None) -> datetime:
    if not value:
        raise BadRequest("close_date is required")
    text = str(value)
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text, fmt).astimezone(UTC)
        except ValueError:
            continue
        except OverflowError:  # year 1 east of UTC, year 9999 west of it
            break
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest(f"close_date is not a date: {text!r}") from None


def _key(store_id: str, document_id: str) -> str:
    return f"evotor:{str(store_id).lower()}:{str(document_id).lower()}"


def _payments(body: dict) -> dict[str, Decimal]:
    """Payments by kind; a payment made through our terminal app is points."""
    payments: dict[str, Decimal] = {}
    our_app = app_id()
    for payment in body.get("payments") or []:
        if not isinstance(payment, dict):
            raise BadRequest("payments must be objects")
        app = (payment.get("app_payment") or {}).get("app_id")
        amount = money(payment.get("sum"), what="payment sum")
        kind = str(payment.get("type") or "").upper()
        if our_app and app and str(app).lower() == our_app.lower():
            kind = POINTS
        elif kind in CARD_TYPES:
            kind = CARD
        elif kind in CASH_TYPES:
            kind = CASH
        else:
            kind = OTHER
        payments[kind] = payments.get(kind, Decimal(0)) + amount
    return payments


def _line_ids(positions: list) -> list[str]:
    """Each position's line id: its own `uuid`/`id`, else its product (numbered when the
    product repeats), the same way in a sale and in its PAYBACK."""
    ids, seen = [], {}
    for index, line in enumerate(positions, start=1):
        own = line.get("uuid") or line.get("id")
        if own:
            ids.append(str(own).lower())
            continue
        product = str(line.get("product_id") or line.get("code") or f"line{index}").lower()
        seen[product] = seen.get(product, 0) + 1
        ids.append(product if seen[product] == 1 else f"{product}#{seen[product]}")
    return ids


def _lines(body: dict) -> list[LineInput]:
    """Positions as lines: amount after discounts, quantity, promo = a position discount."""
    positions = body.get("positions") or []
    if not isinstance(positions, list):
        raise BadRequest("positions must be a list")
    for line in positions:
        if not isinstance(line, dict):
            raise BadRequest("positions must be objects")
    lines = []
    for line, line_id in zip(positions, _line_ids(positions), strict=True):
        quantity = money(line.get("quantity") or 1, what="position quantity")
        lines.append(
            LineInput(
                amount=money(line.get("result_sum", line.get("sum")), what="position result_sum"),
                promo=bool(line.get("position_discount")),
                quantity=quantity if quantity > 0 else Decimal(1),
                external_id=line_id[:120],
                name=str(line.get("product_name") or "")[:200],
            )
        )
    return lines


def receipt_from_document(*, store_id: str, document: dict) -> Receipt | None:
    """Evotor's terminal document as the engine's receipt (None: not a sale or refund)."""
    doc_type = str(document.get("type") or "").upper()
    if doc_type not in (SALE, REFUND):
        return None
    doc_id = document.get("id") or document.get("uuid")
    if not doc_id:
        raise BadRequest("document id is required")
    doc_store = document.get("store_id") or store_id
    if str(doc_store).lower() != str(store_id).lower():
        raise BadRequest("document store_id differs from the store in the path")
    body = document.get("body")
    if not isinstance(body, dict):
        raise BadRequest("document body is required")
    at = parse_time(document.get("close_date"), document.get("time_zone_offset"))
    lines = _lines(body)
    receipt = Receipt(
        source=PurchaseSource.EVOTOR,
        kind=receipt_kinds.SALE if doc_type == SALE else receipt_kinds.REFUND,
        external_id=_key(store_id, doc_id),
        occurred_at=at,
        lines=lines,
        payments=_payments(body),
        phone=body.get("customer_phone"),
        cashier_ref=document.get("close_user_id"),
        branch_ref=store_id,
        raw=document,
    )
    if doc_type == REFUND:
        base = body.get("base_document_id")
        receipt.base_external_id = _key(store_id, base) if base else None
        # A PAYBACK lists the returned positions: those lines, as much as it says.
        receipt.returned = [
            RefundLineInput(external_id=ln.external_id, quantity=ln.quantity, amount=ln.amount)
            for ln in lines
        ] or None
        if lines:  # also as an amount with its promo part, should the lines not match
            receipt.amount = sum((ln.amount for ln in lines), Decimal(0))
            receipt.promo_amount = sum((ln.amount for ln in lines if ln.promo), Decimal(0))
        elif body.get("result_sum") is not None:
            receipt.amount = money(body.get("result_sum"), what="result_sum")
    elif body.get("result_sum") is not None:
        total = money(body.get("result_sum"), what="result_sum")
        if not lines:  # a document without positions: the whole check as one regular line
            receipt.lines = [LineInput(amount=total)]
        elif total != sum((ln.amount for ln in lines), Decimal(0)):
            # The check total is the truth; a discount left off the positions is spread
            # over them by their amounts.
            for line, part in zip(lines, allocate(total, [ln.amount for ln in lines]), strict=True):
                line.amount = part
    return receipt


def document_apply(
    *, merchant: Merchant, store_id: str, document, endpoint: str, log=None
) -> Outcome:
    """Apply one document: SELL records a purchase, PAYBACK a refund (pending if its sale is
    unknown yet); other types are ignored. `log(outcome, document)` writes a recorded
    sale's event row inside its transaction."""
    return documents_apply(
        merchant=merchant, store_id=store_id, payload=[document], endpoint=endpoint, log=log
    )[0]


def store_check(merchant: Merchant, store_id: str) -> None:
    """The store in the path must be one of the merchant's connected branches."""
    store_text_check(store_id)
    if not Branch.objects.filter(merchant=merchant, pos_store_id__iexact=store_id).exists():
        raise Unauthorized("the store is not connected to this merchant")


def store_text_check(store_id: str) -> None:
    """A store id no branch can have (a NUL character, too long) is an unconnected store."""
    try:
        text(
            store_id, what="store id", max_length=Branch._meta.get_field("pos_store_id").max_length
        )
    except BadRequest:
        raise Unauthorized("the store is not connected to this merchant") from None


class TooManyDocuments(BadRequest):
    """More documents in one body than POS_MAX_DOCUMENTS_PER_REQUEST (answered 413)."""

    status = 413


def documents_of(payload) -> list:
    """The body's documents (one object or a list), within POS_MAX_DOCUMENTS_PER_REQUEST:
    a longer list is refused before any document is read."""
    documents = payload if isinstance(payload, list) else [payload]
    cap = settings.POS_MAX_DOCUMENTS_PER_REQUEST
    if len(documents) > cap:
        raise TooManyDocuments(
            f"{len(documents)} documents in one request; at most {cap} "
            "(POS_MAX_DOCUMENTS_PER_REQUEST): send them in smaller parts"
        )
    return documents


def document_receipt(*, merchant: Merchant, store_id: str, document) -> Receipt | Outcome:
    """One document as a checked receipt, or the outcome of a document that is not a sale."""
    if not isinstance(document, dict):
        raise BadRequest("a document must be a JSON object")
    try:
        receipt = receipt_from_document(store_id=store_id, document=document)
        if receipt is not None:
            receipt_check(receipt)
    except BadRequest:
        store_check(merchant, store_id)  # an unconnected store is 401, whatever the body
        raise
    if receipt is None:
        store_check(merchant, store_id)
        doc_type = str(document.get("type") or "").upper()
        return Outcome(PosEvent.Status.IGNORED, f"document type {doc_type or '—'} is not a sale")
    # The store must be one of the merchant's connected branches: checked by the receipt's
    # context statement, which finds the branch anyway.
    receipt.branch_required = True
    return receipt


def documents_apply(
    *, merchant: Merchant, store_id: str, payload, endpoint: str, log=None
) -> list[Outcome]:
    documents = documents_of(payload)
    store_text_check(store_id)
    if not documents:
        store_check(merchant, store_id)
    # Every document is read and checked before any is recorded: a body with one bad
    # document is refused whole and writes nothing. Each is then its own transaction, with
    # its event row written inside it when `log` is given.
    receipts = [
        document_receipt(merchant=merchant, store_id=store_id, document=document)
        for document in documents
    ]
    return [
        receipt_record(merchant=merchant, receipt=r, log=_log_of(log, document), checked=True)
        if isinstance(r, Receipt)
        else r
        for r, document in zip(receipts, documents, strict=True)
    ]


def _log_of(log, document):
    return (
        (lambda outcome, save=True: log(outcome, document, save=save)) if log is not None else None
    )
