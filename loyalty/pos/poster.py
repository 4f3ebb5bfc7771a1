"""Poster: the `transaction` webhook, its md5 `verify` signature, and the Poster API client
that fetches the transaction's state (the hook itself only says "transaction X changed").

Signature (Poster's reference code): md5 of `account;object;object_id;action;[data;]time;secret`,
the values exactly as received (`data` only when present), lower-case hex. Amounts from
`dash.getTransaction`/`dash.getTransactionProducts` are minor units (kopecks/tetri)."""

import hashlib
import hmac
import json
import urllib.parse
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal

from django.db import transaction

from loyalty.models import PaymentType, Purchase, PurchaseSource
from loyalty.money import q
from loyalty.services.errors import LoyaltyError
from loyalty.services.purchases import purchase_record
from loyalty.services.refunds import refund_record
from onboarding.models import Merchant

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

API_BASE = "https://joinposter.com/api/"
STATUS_OPEN, STATUS_CLOSED, STATUS_DELETED = 1, 2, 3
FISCAL_RETURN = 2
PAY_TYPES = {1: PaymentType.CASH, 2: PaymentType.CARD, 3: PaymentType.MIXED}


class PosterApiError(Exception):
    """Poster's API did not answer usefully (network, HTTP or an `error` body)."""


def urllib_transport(method: str, params: dict, timeout: float = 10) -> dict:
    """GET https://joinposter.com/api/<method>?<params> and decode the JSON answer."""
    url = API_BASE + method + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (fixed host)
            return json.loads(response.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        raise PosterApiError(f"{method}: {exc}") from exc


# Tests replace this with a fake (a callable taking (method, params)).
TRANSPORT = urllib_transport


class PosterApi:
    """The few Poster API methods the engine needs, over a replaceable transport."""

    def __init__(self, token: str, transport=None):
        self.token = token
        self.transport = transport or TRANSPORT

    def _call(self, method: str, **params) -> object:
        data = self.transport(method, {"token": self.token, **params})
        if not isinstance(data, dict) or "response" not in data:
            raise PosterApiError(f"{method}: unexpected answer {str(data)[:200]}")
        return data["response"]

    def get_transaction(self, transaction_id) -> dict | None:
        rows = self._call(
            "dash.getTransaction",
            transaction_id=transaction_id,
            include_products="true",
            include_history="false",
            timezone="client",
        )
        if isinstance(rows, list):
            return rows[0] if rows else None
        return rows if isinstance(rows, dict) else None

    def get_transaction_products(self, transaction_id) -> list:
        rows = self._call("dash.getTransactionProducts", transaction_id=transaction_id)
        return rows if isinstance(rows, list) else []

    def get_client(self, client_id) -> dict | None:
        rows = self._call("clients.getClient", client_id=client_id)
        if isinstance(rows, list):
            return rows[0] if rows else None
        return rows if isinstance(rows, dict) else None


def api_for(merchant: Merchant) -> PosterApi:
    return PosterApi(merchant.poster_api_token, transport=TRANSPORT)


def signature(payload: dict, secret: str) -> str:
    """Poster's `verify`: md5 over the received values joined with ';'."""
    parts = [
        payload.get("account"),
        payload.get("object"),
        payload.get("object_id"),
        payload.get("action"),
    ]
    if payload.get("data") is not None:
        data = payload["data"]
        parts.append(
            data
            if isinstance(data, str)
            else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        )
    parts.append(payload.get("time"))
    parts.append(secret)
    text = ";".join("" if p is None else str(p) for p in parts)
    return hashlib.md5(text.encode("utf-8")).hexdigest()  # noqa: S324 (Poster's scheme)


def verify(payload) -> Merchant:
    """The merchant this hook is for, if its signature is right; else Unauthorized/BadRequest."""
    if not isinstance(payload, dict):
        raise BadRequest("body must be a JSON object")
    for name in ("account", "object", "object_id", "action", "time", "verify"):
        if payload.get(name) in (None, ""):
            raise BadRequest(f"{name} is required")
    merchant = Merchant.objects.filter(poster_account=str(payload["account"])).first()
    if merchant is None or not merchant.poster_client_secret:
        raise Unauthorized("unknown Poster account")
    expected = signature(payload, merchant.poster_client_secret)
    if not hmac.compare_digest(expected, str(payload["verify"]).lower()):
        raise Unauthorized("bad signature")
    return merchant


def _int(value, default=0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _closed_at(tx: dict) -> datetime:
    ms = _int(tx.get("date_close"))
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def _promo_total(api: PosterApi, transaction_id) -> Decimal:
    """Paid sum of promo lines: a promotion applied, or 'no discounts or bonuses'."""
    total = Decimal(0)
    for line in api.get_transaction_products(transaction_id):
        if _int(line.get("promotion_id")) != 0 or _int(line.get("nodiscount")) == 1:
            total += money(line.get("payed_sum"), minor_units=True, what="payed_sum")
    return total


def _refund_target(tx: dict, purchase: Purchase) -> Decimal:
    """How much of the sale stands refunded now: all if deleted or fiscally returned as a
    whole, else the lines marked as fiscal return."""
    if _int(tx.get("status")) == STATUS_DELETED or _int(tx.get("print_fiscal")) == FISCAL_RETURN:
        return q(purchase.amount)
    returned = Decimal(0)
    for line in tx.get("products") or []:
        if isinstance(line, dict) and _int(line.get("print_fiscal")) == FISCAL_RETURN:
            returned += money(line.get("payed_sum"), minor_units=True, what="payed_sum")
    return min(q(returned), q(purchase.amount))


def transaction_apply(*, merchant: Merchant, payload: dict) -> Outcome:
    """Fetch the transaction and bring our records to its state: record the sale once it is
    closed and paid; reverse what is now returned or deleted as a net change."""
    if payload.get("object") != "transaction":
        return Outcome(PosEvent.Status.IGNORED, f"object {payload.get('object')} is not a sale")
    tx_id = str(payload["object_id"])
    key = f"poster:{tx_id}"
    api = api_for(merchant)
    tx = api.get_transaction(tx_id)
    if tx is None:
        return Outcome(PosEvent.Status.IGNORED, "transaction not found", external_id=key)
    status = _int(tx.get("status"))
    purchase = Purchase.objects.filter(merchant=merchant, external_id=key).first()
    outcome = Outcome(PosEvent.Status.IGNORED, "transaction not closed yet", external_id=key)
    if purchase is None and status == STATUS_CLOSED and _int(tx.get("date_close")):
        if _int(tx.get("pay_type")) == 0:
            return Outcome(PosEvent.Status.IGNORED, "closed without payment", external_id=key)
        purchase, outcome = _sale(merchant, api, tx, key)
    elif purchase is not None:
        outcome = Outcome(PosEvent.Status.DUPLICATE, external_id=key, purchase=purchase)
    elif status == STATUS_DELETED:
        return Outcome(PosEvent.Status.IGNORED, "deleted before it was closed", external_id=key)
    if purchase is not None:
        target = _refund_target(tx, purchase)
        net = q(target - purchase.refunded_amount)
        if net > 0:
            result = refund_record(
                merchant=merchant,
                purchase=purchase,
                amount=net,
                external_id=f"{key}:refunded:{target}",
                raw_payload=tx,
            )
            status_ = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
            outcome = Outcome(
                status_, f"refunded {net}", external_id=key, purchase=purchase, refund=result.refund
            )
    return outcome


def _sale(merchant: Merchant, api: PosterApi, tx: dict, key: str):
    money_paid = money(tx.get("payed_sum"), minor_units=True, what="payed_sum")
    points = money(tx.get("payed_bonus"), minor_units=True, what="payed_bonus")
    amount = q(money_paid + points)
    promo = min(_promo_total(api, tx.get("transaction_id") or key.split(":")[1]), amount)
    payment_type = PAY_TYPES.get(_int(tx.get("pay_type")), PaymentType.MIXED)
    client, by_phone = None, False
    if _int(tx.get("client_id")):
        phone, card = tx.get("client_phone"), tx.get("card_number")
        if not phone and not _int(card):
            profile = api.get_client(tx["client_id"]) or {}
            phone = profile.get("phone_number") or profile.get("phone")
            card = profile.get("card_number")
        client, by_phone = client_for(merchant, phone=phone, card=card)
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
            occurred_at=_closed_at(tx),
            branch=branch_for_store(merchant, tx.get("spot_id")),
            cashier=cashier_for_employee(merchant, tx.get("user_id")),
            external_id=key,
            source=PurchaseSource.POSTER,
            by_phone=by_phone,
            raw_payload=tx,
        )
    except LoyaltyError as exc:
        raise BadRequest(str(exc)) from None
    status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
    message = note or ("" if client else "no client: sale recorded without points")
    return result.purchase, Outcome(status, message, external_id=key, purchase=result.purchase)


def hook_apply(*, merchant: Merchant, payload: dict) -> Outcome:
    with transaction.atomic():
        return transaction_apply(merchant=merchant, payload=payload)
