"""Shared pieces of the POS adapters: outcomes, the event log, look-ups of branch, cashier
and client, and the redemption clamp for points tendered at the till."""

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.http import JsonResponse

from crm.models import Client
from loyalty.money import q
from onboarding.models import Branch, Merchant, StaffMember

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
    return q(abs(number) / 100 if minor_units else abs(number))


def branch_for_store(merchant: Merchant, store_id) -> Branch | None:
    if not store_id:
        return None
    return Branch.objects.filter(merchant=merchant, pos_store_id__iexact=str(store_id)).first()


def cashier_for_employee(merchant: Merchant, employee_id) -> StaffMember | None:
    if not employee_id:
        return None
    return StaffMember.objects.filter(
        merchant=merchant, pos_employee_id__iexact=str(employee_id)
    ).first()


def client_for(merchant: Merchant, *, phone=None, card=None) -> tuple[Client | None, bool]:
    """(client, identified_by_phone) from a card code or a phone in any spelling — the
    cashier page's look-up (`loyalty.selectors.client_find`), card first."""
    from loyalty.selectors import client_find

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
    from loyalty.selectors import purchase_quote

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


def event_log(*, system, endpoint, merchant, outcome: Outcome, payload) -> PosEvent:
    return PosEvent.objects.create(
        merchant=merchant,
        system=system,
        endpoint=endpoint[:200],
        external_id=(outcome.external_id or "")[:120],
        status=outcome.status,
        message=outcome.message[:2000],
        payload=payload,
        purchase=outcome.purchase,
        refund=outcome.refund,
    )


def answer(outcome: Outcome, status: int = 200, **extra) -> JsonResponse:
    body = {"status": outcome.status, **extra}
    if outcome.message:
        body["message"] = outcome.message
    return JsonResponse(body, status=status)
