"""Merchant lifecycle services shared by admin, demo and commands."""

from django.db import transaction

from loyalty.program import program_for

from . import roles
from .access import has_role
from .models import Merchant


@transaction.atomic
def merchant_after_save(*, merchant: Merchant, acting_user=None) -> None:
    """Keep a saved merchant usable: it has a program, and a specialist who created it
    stays assigned to it (otherwise they could not see what they just made)."""
    program_for(merchant)
    if acting_user is not None and has_role(acting_user, roles.SPECIALIST):
        merchant.specialists.add(acting_user)
