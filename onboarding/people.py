"""People & logins: a specialist gives the merchant's owners and cashiers a login, and takes
it away when they leave. Only for merchants the specialist may edit; never touches a login
tied to another merchant beyond unlinking it from this one.

A login is delivered either by an e-mail with a one-time set-password link (Django's
password-reset token: it stops working once the password is set) or as a one-time password
returned once to the caller and never stored in clear."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from . import roles
from .access import can_edit_merchant
from .models import Branch, Merchant, OnboardingEvent, StaffMember, StaffRole

EMAIL_INVITE = "email"
ONE_TIME_PASSWORD = "password"
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class Invite:
    user: object
    role: str
    password: str | None  # shown once, when the delivery is a one-time password
    link: str | None  # the set-password link, when sent by e-mail


def set_password_path(user) -> str:
    """The path of the one-time set-password page for `user`."""
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    return reverse("password_reset_confirm", args=[uid, token])


def _username_for(email: str, username: str) -> str:
    return (username or email).strip().lower()


@transaction.atomic
def person_invite(
    *,
    merchant: Merchant,
    role: str,
    full_name: str,
    email: str,
    actor,
    delivery: str = EMAIL_INVITE,
    username: str = "",
    branch: Branch | None = None,
    staff: StaffMember | None = None,
    base_url: str = "",
) -> Invite:
    """Create a login for the merchant's owner or cashier. A cashier gets (or is linked to)
    a staff member of this merchant. Raises PermissionDenied if `actor` may not edit the
    merchant, ValidationError on a taken username/e-mail or a branch/staff of another
    merchant. Logs the invitation."""
    if not can_edit_merchant(actor, merchant):
        raise PermissionDenied
    if role not in (roles.OWNER, roles.CASHIER):
        raise ValidationError(_("A login can be created for an owner or a cashier."))
    if delivery not in (EMAIL_INVITE, ONE_TIME_PASSWORD):
        raise ValidationError(_("Choose how to hand over the login."))
    email = (email or "").strip().lower()
    if delivery == EMAIL_INVITE and not email:
        raise ValidationError({"email": _("An e-mail is needed to send the invitation.")})
    username = _username_for(email, username)
    if not username:
        raise ValidationError({"username": _("Give a username or an e-mail.")})
    User = get_user_model()
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": _("This username is taken; choose another one.")})
    if email and User.objects.filter(email__iexact=email).exists():
        raise ValidationError({"email": _("A login with this e-mail already exists.")})
    if branch is not None and branch.merchant_id != merchant.pk:
        raise ValidationError({"branch": _("The branch belongs to another merchant.")})
    if staff is not None and (staff.merchant_id != merchant.pk or staff.user_id):
        raise ValidationError(
            {"staff": _("Choose a staff member of this merchant without a login.")}
        )
    first, _sep, last = full_name.strip().partition(" ")
    user = User(username=username, email=email, first_name=first[:150], last_name=last[:150])
    password = None
    if delivery == ONE_TIME_PASSWORD:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _i in range(12))
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    user.groups.add(Group.objects.get(name=role))
    if role == roles.OWNER:
        merchant.owners.add(user)
    else:
        if staff is None:
            staff = StaffMember.objects.create(
                merchant=merchant,
                full_name=full_name.strip() or username,
                role=StaffRole.CASHIER,
                branch=branch,
                email=email,
            )
        staff.user = user
        staff.is_active = True
        if branch is not None:
            staff.branch = branch
        staff.save()
    link = None
    if delivery == EMAIL_INVITE:
        link = base_url.rstrip("/") + set_password_path(user)
        place = (
            reverse("reports:dashboard", args=[merchant.slug])
            if role == roles.OWNER
            else reverse("loyalty:cashier", args=[merchant.slug])
        )
        send_mail(
            _("Your login to %(merchant)s") % {"merchant": merchant.name},
            _(
                "Hello, %(name)s!\n\nA login has been created for you: %(username)s.\n"
                "Set your password with this link (it works once):\n%(link)s\n\n"
                "Then open %(place)s."
            )
            % {
                "name": full_name.strip() or username,
                "username": username,
                "link": link,
                "place": base_url.rstrip("/") + place,
            },
            settings.DEFAULT_FROM_EMAIL,
            [email],
        )
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.PERSON_INVITED,
        actor=actor,
        details={"username": username, "role": role, "delivery": delivery},
    )
    return Invite(user=user, role=role, password=password, link=link)


def merchant_user_ids(*, merchant: Merchant) -> set[int]:
    """Logins tied to the merchant: its owners and its staff members' accounts."""
    owners = set(merchant.owners.values_list("pk", flat=True))
    staff = set(
        StaffMember.objects.filter(merchant=merchant, user__isnull=False).values_list(
            "user_id", flat=True
        )
    )
    return owners | staff


@transaction.atomic
def person_deactivate(*, merchant: Merchant, user, actor) -> bool:
    """The person left the merchant: unlink them from it (owner, staff member inactive) and
    switch the login off unless it is still tied to another merchant. Returns whether the
    login was switched off. Raises PermissionDenied for a login not tied to this merchant."""
    if not can_edit_merchant(actor, merchant):
        raise PermissionDenied
    if user.pk not in merchant_user_ids(merchant=merchant) or user.is_superuser or user.is_staff:
        raise PermissionDenied
    merchant.owners.remove(user)
    StaffMember.objects.filter(merchant=merchant, user=user).update(is_active=False)
    still_tied = (
        user.owned_merchants.exists()
        or StaffMember.objects.filter(user=user, is_active=True).exists()
    )
    if not still_tied:
        user.is_active = False
        user.save(update_fields=["is_active"])
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.PERSON_DEACTIVATED,
        actor=actor,
        details={"username": user.get_username(), "login_switched_off": not still_tied},
    )
    return not still_tied
