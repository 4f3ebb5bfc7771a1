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
from decimal import Decimal, InvalidOperation

from django.db import transaction

from loyalty.limits import MAX_QUANTITY
from loyalty.models import Purchase, PurchaseLine, PurchaseSource
from loyalty.services.errors import LoyaltyError
from loyalty.services.lines import LineInput, RefundLineInput, allocate
from loyalty.services.refunds import refund_record
from onboarding.models import Merchant
from onboarding.money import q

from .common import BadRequest, Outcome, Unauthorized, money, only_one, text
from .models import PosEvent
from .receipt import CARD, CASH, ID_LENGTH, OTHER, POINTS, SALE, Receipt, receipt_record

API_BASE = "https://joinposter.com/api/"
STATUS_OPEN, STATUS_CLOSED, STATUS_DELETED = 1, 2, 3
FISCAL_RETURN = 2
ACCOUNT_LENGTH = Merchant._meta.get_field("poster_account").max_length
PAY_KINDS = {1: CASH, 2: CARD, 3: OTHER}


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
    try:
        account = text(payload["account"], what="account", max_length=ACCOUNT_LENGTH)
    except BadRequest:
        raise Unauthorized("unknown Poster account") from None  # no account is spelled so
    merchant = only_one(Merchant.objects.filter(poster_account=account))
    if merchant is None or not merchant.poster_client_secret:
        raise Unauthorized("unknown Poster account")
    try:
        expected = signature(payload, merchant.poster_client_secret).encode()
    except UnicodeEncodeError:  # a value no one could have signed (an unpaired surrogate)
        raise Unauthorized("bad signature") from None
    given = str(payload["verify"]).lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise Unauthorized("bad signature")
    return merchant


def _int(value, default=0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _closed_at(tx: dict) -> datetime:
    ms = _int(tx.get("date_close"))
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise BadRequest(f"date_close is not a time: {tx.get('date_close')!r}") from None


def _line_ids(rows: list) -> list[str]:
    """Each product line's id (product:modification, numbered when it repeats), computed the
    same way from `dash.getTransactionProducts` and from the transaction's `products`."""
    ids, seen = [], {}
    for row in rows:
        base = f"{_int(row.get('product_id'))}:{_int(row.get('modification_id'))}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return ids


def _lines(api: PosterApi, tx: dict, transaction_id, amount: Decimal) -> list[LineInput]:
    """The check's product lines (promo: a promotion applied, or 'no discounts or bonuses'),
    scaled to the check amount when Poster's line sums do not add up to it."""
    rows = [r for r in api.get_transaction_products(transaction_id) if isinstance(r, dict)]
    if not rows:
        rows = [r for r in tx.get("products") or [] if isinstance(r, dict)]
    lines = [
        LineInput(
            amount=money(row.get("payed_sum"), minor_units=True, what="payed_sum"),
            promo=_int(row.get("promotion_id")) != 0 or _int(row.get("nodiscount")) == 1,
            quantity=_quantity(row.get("num")),
            external_id=line_id,
            name=str(row.get("product_name") or "")[:200],
        )
        for row, line_id in zip(rows, _line_ids(rows), strict=True)
    ]
    if not lines:
        return [LineInput(amount=amount)]
    if sum((ln.amount for ln in lines), Decimal(0)) != amount:
        for line, part in zip(lines, allocate(amount, [ln.amount for ln in lines]), strict=True):
            line.amount = part
    return lines


def _quantity(value) -> Decimal:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(1)
    if not number.is_finite() or number > MAX_QUANTITY:
        raise BadRequest(f"num is not a plausible quantity: {value!r}")
    return number if number > 0 else Decimal(1)


def _returned(tx: dict) -> tuple[bool, list[str]]:
    """(everything, line ids) the transaction now shows returned: all when deleted, the
    lines marked as fiscal return, and all when only the order carries the flag."""
    if _int(tx.get("status")) == STATUS_DELETED:
        return True, []
    rows = [r for r in tx.get("products") or [] if isinstance(r, dict)]
    marked = [
        line_id
        for row, line_id in zip(rows, _line_ids(rows), strict=True)
        if _int(row.get("print_fiscal")) == FISCAL_RETURN
    ]
    if marked:
        return False, marked  # a per-line return is partial even if the order is flagged
    return _int(tx.get("print_fiscal")) == FISCAL_RETURN, []


def _refund_sync(merchant: Merchant, tx: dict, purchase: Purchase, key: str) -> Outcome | None:
    """Reverse what the transaction now shows returned, as a net change against what was
    already refunded (repeat hooks change nothing)."""
    everything, marked = _returned(tx)
    left = q(purchase.amount - purchase.refunded_amount)
    if everything:
        if left <= 0:
            return None
        result = refund_record(
            merchant=merchant,
            purchase=purchase,
            amount=left,
            external_id=f"{key}:refunded:all",
            raw_payload=tx,
            clamp=True,
        )
    elif marked:
        stored = {ln.external_id: ln for ln in PurchaseLine.objects.filter(purchase=purchase)}
        # What is left of each line is measured under the refund's lock (no amount named):
        # a hook arriving together with another takes what that one left.
        returned = [
            RefundLineInput(external_id=line_id)
            for line_id in marked
            if (ln := stored.get(line_id)) is not None and ln.amount > ln.refunded_amount
        ]
        if not returned:
            return None
        result = refund_record(
            merchant=merchant,
            purchase=purchase,
            lines=returned,
            external_id=f"{key}:refunded:{','.join(sorted(r.external_id for r in returned))}",
            raw_payload=tx,
            clamp=True,
        )
    else:
        return None
    if result.refund is None:
        return None
    status = PosEvent.Status.ACCEPTED if result.created else PosEvent.Status.DUPLICATE
    return Outcome(
        status,
        f"refunded {result.refund.amount}",
        external_id=key,
        purchase=purchase,
        refund=result.refund,
    )


def transaction_apply(*, merchant: Merchant, payload: dict) -> Outcome:
    """Fetch the transaction and bring our records to its state: record the sale once it is
    closed and paid; reverse what is now returned or deleted as a net change."""
    if payload.get("object") != "transaction":
        return Outcome(PosEvent.Status.IGNORED, f"object {payload.get('object')} is not a sale")
    tx_id = str(payload["object_id"])
    key = text(f"poster:{tx_id}", what="object_id", max_length=ID_LENGTH)
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
        outcome = receipt_record(merchant=merchant, receipt=_receipt(api, tx, key))
        purchase = outcome.purchase
    elif purchase is not None:
        outcome = Outcome(PosEvent.Status.DUPLICATE, external_id=key, purchase=purchase)
    elif status == STATUS_DELETED:
        return Outcome(PosEvent.Status.IGNORED, "deleted before it was closed", external_id=key)
    if purchase is not None:
        purchase.refresh_from_db(fields=["refunded_amount"])
        try:
            outcome = _refund_sync(merchant, tx, purchase, key) or outcome
        except LoyaltyError as exc:
            raise BadRequest(str(exc)) from None
    return outcome


def _receipt(api: PosterApi, tx: dict, key: str) -> Receipt:
    """A closed Poster transaction as the engine's receipt."""
    money_paid = money(tx.get("payed_sum"), minor_units=True, what="payed_sum")
    points = money(tx.get("payed_bonus"), minor_units=True, what="payed_bonus")
    amount = q(money_paid + points)
    kind = PAY_KINDS.get(_int(tx.get("pay_type")), OTHER)
    phone = card = None
    if _int(tx.get("client_id")):
        phone, card = tx.get("client_phone"), tx.get("card_number")
        if not phone and not _int(card):
            profile = api.get_client(tx["client_id"]) or {}
            phone = profile.get("phone_number") or profile.get("phone")
            card = profile.get("card_number")
    return Receipt(
        source=PurchaseSource.POSTER,
        kind=SALE,
        external_id=key,
        occurred_at=_closed_at(tx),
        lines=_lines(api, tx, tx.get("transaction_id") or key.split(":")[1], amount),
        payments={POINTS: points, kind: money_paid},
        phone=phone,
        card=card if _int(card) else None,
        cashier_ref=tx.get("user_id"),
        branch_ref=tx.get("spot_id"),
        raw=tx,
    )


def hook_apply(*, merchant: Merchant, payload: dict) -> Outcome:
    with transaction.atomic():
        return transaction_apply(merchant=merchant, payload=payload)
