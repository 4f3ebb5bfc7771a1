"""POS identities: the Evotor user id, the Poster account, the stores of a merchant's
branches and the POS employee ids of its staff. The webhooks find the merchant by them, so each names one merchant (database
constraints back this up); forms say so before saving, without naming the other merchant,
and every change is written to the merchant's onboarding log."""

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .models import GLOBAL_STORE_ID_LENGTH, Branch, Merchant, OnboardingEvent, StaffMember

MERCHANT_IDENTITY_FIELDS = ("evotor_user_id", "poster_account")

TAKEN = {
    "evotor_user_id": _(
        "This Evotor user id is already connected to another merchant. Check it in the "
        "Evotor account; if it is this merchant's, ask an administrator to disconnect it there."
    ),
    "poster_account": _(
        "This Poster account is already connected to another merchant. Check it in Poster; "
        "if it is this merchant's, ask an administrator to disconnect it there."
    ),
    "pos_store_id": _(
        "This Evotor store is already connected to a branch of another merchant. Check the "
        "store id; if it is this merchant's, ask an administrator to disconnect it there."
    ),
    "pos_store_id_here": _("Another branch of this merchant already has this store id."),
    "pos_employee_id": _("Another staff member of this merchant already has this POS employee id."),
}


def merchant_identity_check(*, field: str, value: str, merchant_id: int | None) -> str:
    """The identity, trimmed; ValidationError if another merchant already has it."""
    value = (value or "").strip()
    if value and Merchant.objects.filter(**{field: value}).exclude(pk=merchant_id).exists():
        raise ValidationError(TAKEN[field], code="pos_identity_taken")
    return value


def store_id_is_global(value: str) -> bool:
    """Evotor's store UUIDs are unique in the world; Poster's spot ids only per account."""
    return len(value) >= GLOBAL_STORE_ID_LENGTH


def store_id_check(*, value: str, merchant_id: int | None, branch_id: int | None) -> str:
    """A branch's store id, trimmed; ValidationError if another branch of the merchant, or
    (for an Evotor store) a branch of another merchant, already has it."""
    value = (value or "").strip()
    if not value:
        return value
    others = Branch.objects.filter(pos_store_id__iexact=value).exclude(pk=branch_id)
    if others.filter(merchant_id=merchant_id).exists():
        raise ValidationError(TAKEN["pos_store_id_here"], code="pos_identity_taken")
    if store_id_is_global(value) and others.exists():
        raise ValidationError(TAKEN["pos_store_id"], code="pos_identity_taken")
    return value


def employee_id_check(*, value: str, merchant_id: int | None, staff_id: int | None) -> str:
    """A staff member's POS employee id, trimmed; ValidationError if another staff member of
    the merchant already has it (in any case: the POS look-ups ignore it)."""
    value = (value or "").strip()
    if (
        value
        and merchant_id is not None
        and StaffMember.objects.filter(merchant_id=merchant_id, pos_employee_id__iexact=value)
        .exclude(pk=staff_id)
        .exists()
    ):
        raise ValidationError(TAKEN["pos_employee_id"], code="pos_identity_taken")
    return value


def pos_identities_log(
    *, merchant: Merchant, changes: dict, actor=None, branch: Branch | None = None
) -> None:
    """Write the changed identities ({field: (old, new)}) of the merchant, or of one of its
    branches, to the merchant's onboarding log."""
    changes = {f: [old or "", new or ""] for f, (old, new) in changes.items() if old != new}
    if not changes:
        return
    details = {"changes": changes}
    if branch is not None:
        details["branch"] = branch.name
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.POS_IDENTITY_CHANGED,
        actor=actor if getattr(actor, "pk", None) else None,
        details=details,
    )
