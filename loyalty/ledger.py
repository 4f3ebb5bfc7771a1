"""The points ledger: locking and single movements.

One rule for a movement (rounding, never below zero, entry appended, cached balance moved in
the same transaction) lives in `loyalty.services.balances.LedgerBatch`; `ledger_post` is its
one-entry form. Campaign issuance and expiry over whole client bases use set-based SQL that
keeps the same contract (`loyalty/campaigns/`). Callers own the transaction and hold the
clients' row locks (`lock_clients`)."""

from decimal import Decimal

from crm.models import Client

from .models import LedgerEntry
from .money import q


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
    A one-entry `LedgerBatch`, so the single and the batch path share one rule.
    """
    from .services.balances import LedgerBatch

    batch = LedgerBatch({client.pk: client})
    entry = batch.post(
        client_id=client.pk, kind=kind, points=points, created_at=created_at, **links
    )
    batch.flush()
    return entry


def ledger_balance(client: Client) -> Decimal:
    """The balance as the sum of the ledger (the truth the cached balance must equal)."""
    from django.db.models import Sum

    total = LedgerEntry.objects.filter(client=client).aggregate(s=Sum("points"))["s"]
    return q(total or 0)
