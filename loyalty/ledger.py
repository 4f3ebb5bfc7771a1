"""The points ledger primitive: every balance change in the product goes through `ledger_post`.

Callers own the surrounding transaction and must hold the client's row lock
(`lock_clients`) so the cached balance and the ledger sum never diverge."""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client

from .models import LedgerEntry
from .money import ZERO, q


class InsufficientPoints(Exception):
    """A debit would take the balance below zero."""


def lock_clients(client_ids) -> dict[int, Client]:
    """Lock clients' rows in primary-key order (so concurrent transactions never deadlock)
    and return them fresh from the database, keyed by id."""
    ids = sorted({cid for cid in client_ids if cid is not None})
    if not ids:
        return {}
    rows = Client.objects.filter(pk__in=ids).order_by("pk").select_for_update(of=("self",))
    return {c.pk: c for c in rows}


def ledger_post(*, client: Client, kind: str, points, created_at=None, **links) -> LedgerEntry:
    """Append one movement and move the cached balance with it.

    `client` must be locked in the current transaction. A debit larger than the balance
    raises InsufficientPoints and writes nothing. `links` are LedgerEntry fields
    (purchase, refund, campaign, certificate, referral_level, reason, created_by, expires_at).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("ledger_post must run inside transaction.atomic with the client locked")
    points = q(points)
    new_balance = q(Decimal(client.balance) + points)
    if new_balance < ZERO:
        raise InsufficientPoints(
            _("Not enough points: balance %(balance)s, needed %(needed)s.")
            % {"balance": client.balance, "needed": -points}
        )
    entry = LedgerEntry.objects.create(
        merchant_id=client.merchant_id,
        client=client,
        kind=kind,
        points=points,
        created_at=created_at or timezone.now(),
        **links,
    )
    client.balance = new_balance
    Client.objects.filter(pk=client.pk).update(balance=new_balance)
    return entry


def ledger_balance(client: Client) -> Decimal:
    """The balance as the sum of the ledger (the truth the cached balance must equal)."""
    from django.db.models import Sum

    total = LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"]
    return q(total or 0)
