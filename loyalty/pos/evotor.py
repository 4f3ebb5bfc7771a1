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
from django.db import transaction

from loyalty.models import PaymentType, PurchaseSource
from loyalty.services.errors import LoyaltyError
from loyalty.services.purchases import purchase_record
from loyalty.services.refunds import refund_or_pending
from onboarding.models import Branch, Merchant

from .common import (
    BadRequest,
    Outcome,
    Unauthorized,
    branch_for_store,
    cashier_for_employee,
    clamp_points,
    client_for,
    money,
)
from .models import PosEvent

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


def merchant_for_token(header: str, *, user_id: str | None = None) -> Merchant:
    """Notifications: the merchant whose issued user token this is (constant-time compare)."""
    token = _auth_value(header)
    digest = token_hash(token)
    merchant = Merchant.objects.filter(evotor_token_hash=digest).first()
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
    merchant = Merchant.objects.filter(evotor_user_id=user_id).first()
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
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"close_date is not a date: {text!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _key(store_id: str, document_id: str) -> str:
    return f"evotor:{str(store_id).lower()}:{str(document_id).lower()}"


def _payments(body: dict) -> tuple[Decimal, str]:
    """(points paid through our app, payment type of the money part)."""
    points, kinds = Decimal(0), set()
    our_app = app_id()
    for payment in body.get("payments") or []:
        if not isinstance(payment, dict):
            raise BadRequest("payments must be objects")
        app = (payment.get("app_payment") or {}).get("app_id")
        amount = money(payment.get("sum"), what="payment sum")
        if our_app and app and str(app).lower() == our_app.lower():
            points += amount
            continue
        kind = str(payment.get("type") or "").upper()
        kinds.add("card" if kind in CARD_TYPES else "cash" if kind in CASH_TYPES else "other")
    if kinds == {"cash"}:
        payment_type = PaymentType.CASH
    elif kinds <= {"card"}:
        payment_type = PaymentType.CARD
    else:
        payment_type = PaymentType.MIXED
    return points, payment_type


def _amounts(body: dict) -> tuple[Decimal, Decimal]:
    """(check total after discounts, promo part). Promo = a line with a position discount."""
    positions = body.get("positions") or []
    if not isinstance(positions, list):
        raise BadRequest("positions must be a list")
    total, promo = Decimal(0), Decimal(0)
    for line in positions:
        if not isinstance(line, dict):
            raise BadRequest("positions must be objects")
        line_sum = money(line.get("result_sum", line.get("sum")), what="position result_sum")
        total += line_sum
        if line.get("position_discount"):
            promo += line_sum
    if body.get("result_sum") is not None:
        total = money(body.get("result_sum"), what="result_sum")
    return total, min(promo, total)


def document_apply(*, merchant: Merchant, store_id: str, document, endpoint: str) -> Outcome:
    """Apply one document: SELL records a purchase, PAYBACK a refund (pending if its sale is
    unknown yet); other types are ignored."""
    if not isinstance(document, dict):
        raise BadRequest("a document must be a JSON object")
    doc_type = str(document.get("type") or "").upper()
    doc_id = document.get("id") or document.get("uuid")
    if doc_type not in (SALE, REFUND):
        return Outcome(PosEvent.Status.IGNORED, f"document type {doc_type or '—'} is not a sale")
    if not doc_id:
        raise BadRequest("document id is required")
    doc_store = document.get("store_id") or store_id
    if str(doc_store).lower() != str(store_id).lower():
        raise BadRequest("document store_id differs from the store in the path")
    body = document.get("body")
    if not isinstance(body, dict):
        raise BadRequest("document body is required")
    at = parse_time(document.get("close_date"), document.get("time_zone_offset"))
    key = _key(store_id, doc_id)
    amount, promo = _amounts(body)
    if doc_type == REFUND:
        base = body.get("base_document_id")
        if not base:
            return Outcome(PosEvent.Status.IGNORED, "refund without a base sale", external_id=key)
        result = refund_or_pending(
            merchant=merchant,
            base_external_id=_key(store_id, base),
            external_id=key,
            amount=amount,
            occurred_at=at,
            raw_payload=document,
        )
        if result.pending:
            return Outcome(PosEvent.Status.PENDING, "sale not seen yet", external_id=key)
        if result.refund is None:
            return Outcome(PosEvent.Status.IGNORED, "nothing left to refund", external_id=key)
        status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
        return Outcome(
            status, external_id=key, refund=result.refund, purchase=result.refund.purchase
        )
    points, payment_type = _payments(body)
    client, by_phone = client_for(merchant, phone=body.get("customer_phone"))
    points, note = clamp_points(
        merchant, client, amount=amount, excluded=promo, payment_type=payment_type, points=points
    )
    try:
        result = purchase_record(
            merchant=merchant,
            client=client,
            amount=amount,
            excluded_amount=promo,
            points_to_redeem=points,
            payment_type=payment_type,
            occurred_at=at,
            branch=branch_for_store(merchant, store_id),
            cashier=cashier_for_employee(merchant, document.get("close_user_id")),
            external_id=key,
            source=PurchaseSource.EVOTOR,
            by_phone=by_phone,
            raw_payload=document,
        )
    except LoyaltyError as exc:
        raise BadRequest(str(exc)) from None
    status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
    message = note or ("" if client else "no client: sale recorded without points")
    return Outcome(status, message, external_id=key, purchase=result.purchase)


def store_check(merchant: Merchant, store_id: str) -> None:
    """The store in the path must be one of the merchant's connected branches."""
    if not Branch.objects.filter(merchant=merchant, pos_store_id__iexact=store_id).exists():
        raise Unauthorized("the store is not connected to this merchant")


def documents_apply(*, merchant: Merchant, store_id: str, payload, endpoint: str) -> list[Outcome]:
    documents = payload if isinstance(payload, list) else [payload]
    outcomes = []
    for document in documents:
        with transaction.atomic():
            outcomes.append(
                document_apply(
                    merchant=merchant, store_id=store_id, document=document, endpoint=endpoint
                )
            )
    return outcomes
