"""One-time codes that confirm a phone (joining, signing in) and magic links.

A code is six random digits; only an HMAC of it (keyed with the site's secret) is stored, it
expires after CARDS_CODE_TTL seconds, allows CARDS_CODE_MAX_ATTEMPTS wrong guesses and is spent
once. Sending is rate-limited per phone and per IP address, counted on the code rows
themselves, so the limits hold across processes and restarts."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from onboarding.models import Merchant

from .errors import CardError
from .models import CodePurpose, OneTimeCode


def _setting(name: str, default: int) -> int:
    return int(getattr(settings, name, default))


def code_ttl() -> timedelta:
    return timedelta(seconds=_setting("CARDS_CODE_TTL", 600))


# (how many, within seconds) — the first limit that is reached refuses a new code.
def phone_limits() -> list[tuple[int, int]]:
    return [
        (_setting("CARDS_CODES_PER_PHONE_10MIN", 3), 600),
        (_setting("CARDS_CODES_PER_PHONE_DAY", 10), 86400),
    ]


def ip_limits() -> list[tuple[int, int]]:
    return [(_setting("CARDS_CODES_PER_IP_HOUR", 20), 3600)]


def _digest(*parts) -> str:
    message = ":".join(str(p) for p in parts).encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def code_hash(*, merchant_id: int, phone: str, purpose: str, code: str) -> str:
    return _digest("otp", merchant_id, phone, purpose, code)


def link_hash(token: str) -> str:
    return _digest("link", token)


@dataclass
class IssuedCode:
    row: OneTimeCode
    code: str
    link_token: str


def _wait_text(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return ngettext(
        "Too many codes requested. Try again in %(n)d minute.",
        "Too many codes requested. Try again in %(n)d minutes.",
        minutes,
    ) % {"n": minutes}


def _check_limits(*, merchant: Merchant, phone: str, ip: str | None, now) -> None:
    for limit, window in phone_limits():
        since = now - timedelta(seconds=window)
        recent = list(
            OneTimeCode.objects.filter(
                merchant=merchant, phone=phone, created_at__gte=since, send_failed=False
            )
            .order_by("-created_at")
            .values_list("created_at", flat=True)[:limit]
        )
        if len(recent) >= limit:
            wait = int((recent[-1] + timedelta(seconds=window) - now).total_seconds())
            raise CardError(_wait_text(wait))
    if ip:
        for limit, window in ip_limits():
            since = now - timedelta(seconds=window)
            recent = list(
                OneTimeCode.objects.filter(ip=ip, created_at__gte=since)
                .order_by("-created_at")
                .values_list("created_at", flat=True)[:limit]
            )
            if len(recent) >= limit:
                wait = int((recent[-1] + timedelta(seconds=window) - now).total_seconds())
                raise CardError(_wait_text(wait))


def code_issue(
    *, merchant: Merchant, phone: str, purpose: str, ip: str | None = None
) -> IssuedCode:
    """A new code (and magic-link token) for an E.164 phone; earlier unused codes for the
    same phone and purpose stop working. Raises CardError when a rate limit is reached.
    The caller sends the code (see `cards.delivery`)."""
    now = timezone.now()
    with transaction.atomic():
        _check_limits(merchant=merchant, phone=phone, ip=ip, now=now)
        OneTimeCode.objects.filter(
            merchant=merchant,
            phone=phone,
            purpose=purpose,
            used_at__isnull=True,
            expires_at__gt=now,
        ).update(expires_at=now)
        code = f"{secrets.randbelow(1_000_000):06d}"
        token = secrets.token_urlsafe(24)
        row = OneTimeCode.objects.create(
            merchant=merchant,
            phone=phone,
            purpose=purpose,
            code_hash=code_hash(merchant_id=merchant.pk, phone=phone, purpose=purpose, code=code),
            link_hash=link_hash(token),
            ip=ip,
            created_at=now,
            expires_at=now + code_ttl(),
        )
    return IssuedCode(row=row, code=code, link_token=token)


def code_send_failed(issued: IssuedCode) -> None:
    """The code could not be delivered: it stops working at once and no longer counts toward
    the phone's sending limit (the per-address limit still counts it)."""
    OneTimeCode.objects.filter(pk=issued.row.pk).update(send_failed=True, expires_at=timezone.now())


def code_verify(*, merchant: Merchant, phone: str, purpose: str, code: str) -> OneTimeCode:
    """Spend the phone's current code if `code` matches. A wrong guess is counted; after
    CARDS_CODE_MAX_ATTEMPTS the code is dead. Raises CardError with what to do next."""
    max_attempts = _setting("CARDS_CODE_MAX_ATTEMPTS", 5)
    now = timezone.now()
    entered = "".join(ch for ch in (code or "") if ch.isdigit())
    row = (
        OneTimeCode.objects.filter(
            merchant=merchant, phone=phone, purpose=purpose, used_at__isnull=True
        )
        .order_by("-created_at")
        .first()
    )
    if row is None or row.expires_at <= now:
        raise CardError(_("The code has expired. Request a new one."))
    if row.attempts >= max_attempts:
        raise CardError(_("Too many wrong codes. Request a new one."))
    expected = code_hash(merchant_id=merchant.pk, phone=phone, purpose=purpose, code=entered)
    if not hmac.compare_digest(expected, row.code_hash):
        OneTimeCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
        left = max_attempts - row.attempts - 1
        if left <= 0:
            raise CardError(_("Too many wrong codes. Request a new one."))
        raise CardError(
            ngettext("Wrong code. %(n)d attempt left.", "Wrong code. %(n)d attempts left.", left)
            % {"n": left}
        )
    # Spent once even when two requests carry the right code at the same moment.
    spent = OneTimeCode.objects.filter(
        pk=row.pk, used_at__isnull=True, attempts__lt=max_attempts
    ).update(used_at=now)
    if not spent:
        raise CardError(_("The code has already been used. Request a new one."))
    row.used_at = now
    return row


def link_verify(*, merchant: Merchant, token: str) -> OneTimeCode:
    """Spend a sign-in magic link; raises CardError when it is unknown, used or expired."""
    now = timezone.now()
    row = OneTimeCode.objects.filter(
        merchant=merchant, purpose=CodePurpose.SIGNIN, link_hash=link_hash(token or "")
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise CardError(_("The link has expired or was already used. Request a new one."))
    if not OneTimeCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now):
        raise CardError(_("The link has expired or was already used. Request a new one."))
    row.used_at = now
    return row
