"""Shared pieces of the POS adapters: outcomes, the event log, look-ups of branch, cashier
and client, and the redemption clamp for points tendered at the till."""

import json
import logging
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.http import JsonResponse

from crm.models import Client
from loyalty.limits import amount_problem
from loyalty.selectors import client_find, purchase_quote
from onboarding.models import Branch, Merchant, StaffMember
from onboarding.money import q

from .models import PosEvent

logger = logging.getLogger("loyalty.pos")


class BadRequest(Exception):
    """The body cannot be understood (answered 400 with the reason)."""


class Unauthorized(Exception):
    """Bad token or signature (answered 401; nothing is changed)."""


@dataclass
class Outcome:
    status: str  # a PosEvent.Status value
    message: str = ""
    external_id: str = ""
    purchase: object = None
    refund: object = None
    extra: dict = field(default_factory=dict)
    logged: bool = False  # its event row is already written (with the purchase)
    # (document as received, the same made storable): the event row of that document takes
    # the storable copy instead of cleaning it again.
    cleaned: tuple | None = None


def json_body(request) -> object:
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"body is not JSON: {exc}") from None
    except (ValueError, RecursionError):  # a number too long to convert, absurd nesting
        raise BadRequest("body is not acceptable JSON (too long a number or too deep)") from None


def money(value, *, minor_units: bool = False, what: str = "amount") -> Decimal:
    """A POS amount as Decimal (Evotor: decimal roubles; Poster: integer minor units)."""
    if value is None or value == "":
        return Decimal(0)
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise BadRequest(f"{what} is not a number: {value!r}") from None
    if not number.is_finite():
        raise BadRequest(f"{what} is not a number: {value!r}")
    number = abs(number) / 100 if minor_units else abs(number)
    if problem := amount_problem(number):
        raise BadRequest(f"{what}: {problem}")
    return q(number)


def text(value, *, what: str, max_length: int) -> str:
    """An identifier from a POS body as text the database can keep (no NUL character, within
    its column); BadRequest with the reason otherwise."""
    value = "" if value is None else str(value)
    if "\x00" in value:
        raise BadRequest(f"{what} contains a NUL character")
    if not _encodable(value):
        raise BadRequest(f"{what} contains an unpaired surrogate (not a Unicode character)")
    if len(value) > max_length:
        raise BadRequest(f"{what} is longer than {max_length} characters")
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def storable(value):
    """A JSON value the database can keep, as evidence (it is never read back as data): the
    NUL character (which jsonb refuses) and unpaired surrogates (not UTF-8) become U+FFFD in
    every string and key, and NaN or an infinity (not JSON) its name as text."""
    if isinstance(value, str):
        if "\x00" in value:
            value = value.replace("\x00", "\ufffd")
        if not _encodable(value):
            value = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in value)
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def only_one(queryset):
    """The single row the look-up names, or None — never whichever comes first."""
    rows = list(queryset[:2])
    return rows[0] if len(rows) == 1 else None


def branch_for_store(merchant: Merchant, store_id) -> Branch | None:
    if not store_id:
        return None
    return Branch.objects.filter(merchant=merchant, pos_store_id__iexact=str(store_id)).first()


def cashier_for_employee(merchant: Merchant, employee_id) -> StaffMember | None:
    if not employee_id:
        return None
    return only_one(
        StaffMember.objects.filter(merchant=merchant, pos_employee_id__iexact=str(employee_id))
    )


def client_for(merchant: Merchant, *, phone=None, card=None) -> tuple[Client | None, bool]:
    """(client, identified_by_phone) from a card code or a phone in any spelling — the
    cashier page's look-up (`loyalty.selectors.client_find`), card first."""
    for query in (card, phone):
        if query in (None, "", 0, "0"):
            continue
        match = client_find(merchant=merchant, query=str(query))
        if match.client is not None:
            return match.client, match.by_phone
    return None, False


def clamp_points(
    merchant, client, *, amount, excluded, payment_type, points
) -> tuple[Decimal, str]:
    """Points the till says were tendered, limited to what the rules allow (the POS has
    already taken them, so refusing would lose the sale); returns (points, note)."""
    if client is None or not points:
        return Decimal(0), ""
    limits = purchase_quote(
        merchant=merchant,
        client=client,
        amount=amount,
        excluded_amount=excluded,
        payment_type=payment_type,
    )
    if points > limits.max_points:
        return (
            limits.max_points,
            f"points tendered {points} reduced to the allowed {limits.max_points}",
        )
    return points, ""


def event_log(*, system, endpoint, merchant, outcome: Outcome, payload, save=True) -> PosEvent:
    """The event row of a POS request, saved (or, with `save=False`, for the caller to
    write with the purchase it records)."""
    event = PosEvent(
        merchant=merchant,
        system=system,
        endpoint=storable(endpoint[:200]),
        external_id=storable((outcome.external_id or "")[:120]),
        status=outcome.status,
        message=storable(outcome.message[:2000]),
        payload=(
            outcome.cleaned[1]
            if outcome.cleaned is not None and outcome.cleaned[0] is payload
            else storable(payload)
        ),
        purchase=outcome.purchase,
        refund=outcome.refund,
    )
    if save:
        event.save(force_insert=True)
    return event


def answer(outcome: Outcome, status: int = 200, **extra) -> JsonResponse:
    body = {"status": outcome.status, **extra}
    if outcome.message:
        body["message"] = outcome.message
    return JsonResponse(body, status=status)
