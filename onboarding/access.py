"""Who may see which merchant. Every page, admin queryset and export goes through here."""

from django.db.models import Q, QuerySet

from . import roles
from .models import Merchant


def user_roles(user) -> set[str]:
    if not user.is_authenticated:
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def has_role(user, role: str) -> bool:
    return role in user_roles(user)


def visible_merchants(user) -> QuerySet[Merchant]:
    """Merchants the user may see: superusers all; others only those they are tied to."""
    if not user.is_authenticated or not user.is_active:
        return Merchant.objects.none()
    if user.is_superuser:
        return Merchant.objects.all()
    names = user_roles(user)
    condition = Q(pk__in=[])
    if roles.SPECIALIST in names:
        condition |= Q(specialists=user)
    if roles.PARTNER in names:
        condition |= Q(partner=user)
    if roles.OWNER in names:
        condition |= Q(owners=user)
    return Merchant.objects.filter(pk__in=Merchant.objects.filter(condition).values("pk"))


def dashboard_merchants(user) -> QuerySet[Merchant]:
    """Merchants whose owner dashboard the user may open (owner, specialist, partner)."""
    return visible_merchants(user)


def cashier_merchant(user) -> Merchant | None:
    """The one merchant a cashier works for, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    staff = getattr(user, "staff_member", None)
    if staff is None or not staff.is_active:
        return None
    return staff.merchant


def can_edit_merchant(user, merchant: Merchant) -> bool:
    if user.is_superuser:
        return True
    return has_role(user, roles.SPECIALIST) and merchant.specialists.filter(pk=user.pk).exists()
