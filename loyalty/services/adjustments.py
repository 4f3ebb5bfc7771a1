"""Manual point adjustments by a specialist: always with a reason and the acting user."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.ledger import InsufficientPoints, LedgerBatch, lock_clients
from loyalty.models import LedgerEntry, LedgerKind
from onboarding.models import Merchant
from onboarding.money import q

from .errors import ClientError, LoyaltyError


def points_adjust(*, merchant: Merchant, client: Client, points, reason: str, user) -> LedgerEntry:
    """Add (or, negative, take) points by hand. A reason is required; the entry records the
    user. Taking more than the balance raises LoyaltyError and writes nothing."""
    points = q(points)
    reason = (reason or "").strip()
    if client.merchant_id != merchant.pk:
        raise ClientError(_("The client belongs to another merchant."))
    if not reason:
        raise LoyaltyError(_("A manual adjustment needs a reason."))
    if not points:
        raise LoyaltyError(_("An adjustment of zero points changes nothing."))
    with transaction.atomic():
        batch = LedgerBatch(lock_clients([client.pk]))
        try:
            entry = batch.post(
                client_id=client.pk,
                kind=LedgerKind.ADJUSTMENT,
                points=points,
                reason=reason[:300],
                created_by=user,
                created_at=timezone.now(),
            )
        except InsufficientPoints as exc:
            raise LoyaltyError(str(exc)) from None
        batch.flush()
    client.refresh_from_db(fields=["balance"])
    return entry
