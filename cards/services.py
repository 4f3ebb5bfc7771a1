"""The client site's rules: joining (with consent, invitation and partner code), the card's
codes, card sessions, consent changes, feedback and the page counters. Views call these."""

import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client, ClientSource, Review
from loyalty.channels import api as channels_api
from loyalty.models import Purchase
from loyalty.services.errors import LoyaltyError
from loyalty.services.members import client_join
from loyalty.services.referrals import referrer_assign
from onboarding.models import Merchant
from onboarding.tokens import token_hash, token_new

from .errors import CardError
from .models import (
    JOIN_CHANNELS,
    CardCounter,
    CardProfile,
    CardSession,
    FeedbackRequest,
)
from .partners import partner_code_find, partner_code_redeem

INVITE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# Sessions are touched at most this often, so a page view is not a write each time.
SESSION_TOUCH_EVERY = timedelta(minutes=5)
SESSION_LIFETIME = timedelta(days=180)


# ── codes on the card ──────────────────────────────────────────────────────────────────


def card_code_ensure(*, client: Client) -> str:
    """The client's card code (what the QR on the card carries and the till accepts): kept
    if set (an imported card number stays valid), otherwise 13 random digits, unused in the
    merchant."""
    if client.card_code:
        return client.card_code
    for _attempt in range(10):
        code = "2" + "".join(secrets.choice("0123456789") for _ in range(12))
        if not Client.objects.filter(merchant_id=client.merchant_id, card_code=code).exists():
            break
    else:  # pragma: no cover - 10 collisions in a 10^12 space
        raise CardError(_("Could not create a card code; try again."))
    updated = Client.objects.filter(pk=client.pk, card_code="").update(card_code=code)
    if not updated:  # another request gave the card its code first
        client.card_code = Client.objects.values_list("card_code", flat=True).get(pk=client.pk)
    else:
        client.card_code = code
    return client.card_code


def card_profile_ensure(*, client: Client, join_channel: str = "") -> CardProfile:
    """The member's card profile with a personal invite code (created once)."""
    profile = CardProfile.objects.filter(client=client).first()
    if profile is not None:
        return profile
    for _attempt in range(10):
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(8))
        try:
            with transaction.atomic():
                return CardProfile.objects.create(
                    client=client, invite_code=code, join_channel=join_channel
                )
        except IntegrityError:
            profile = CardProfile.objects.filter(client=client).first()
            if profile is not None:
                return profile
    raise CardError(_("Could not create an invite code; try again."))


def inviter_find(*, merchant: Merchant, invite_code: str) -> Client | None:
    """The member whose invite code this is, within the merchant only."""
    code = (invite_code or "").strip().lower()
    if not code:
        return None
    profile = (
        CardProfile.objects.select_related("client")
        .filter(invite_code=code, client__merchant=merchant)
        .first()
    )
    return profile.client if profile else None


# ── joining ────────────────────────────────────────────────────────────────────────────


@dataclass
class JoinOutcome:
    client: Client
    created: bool  # a new contact (False: an existing one, e.g. imported, became a member)
    joined: bool  # False: was already a member
    welcome_points: object = 0
    referrer: Client | None = None
    certificate: object = None
    notes: list[str] = field(default_factory=list)


def card_join(
    *,
    merchant: Merchant,
    phone: str,
    full_name: str = "",
    birthday: date | None = None,
    consent: bool,
    channel: str = "link",
    invite_code: str = "",
    partner_code: str = "",
    ip: str | None = None,
) -> JoinOutcome:
    """Make the owner of a confirmed E.164 phone a member: the existing contact (imported or
    registered at the till) is reused, never duplicated; empty name and birthday are filled;
    an invitation assigns the inviter as referrer (refused for cycles, other merchants and
    clients who already had a referrer or were members); consent is recorded with its
    source; a partner code gives its certificate. Welcome points come from the engine."""
    inviter = inviter_find(merchant=merchant, invite_code=invite_code) if invite_code else None
    code_row = None
    if partner_code:
        code_row = partner_code_find(merchant=merchant, code=partner_code)
    notes: list[str] = []
    with transaction.atomic():
        client = Client.objects.select_for_update().filter(merchant=merchant, phone=phone).first()
        created = client is None
        if created:
            source, detail = ClientSource.ORGANIC, f"card: {channel}"
            if code_row is not None:
                source, detail = ClientSource.PARTNER, code_row.batch.partner_name
            elif inviter is not None:
                source, detail = ClientSource.REFERRAL, ""
            try:
                with transaction.atomic():
                    client = Client.objects.create(
                        merchant=merchant,
                        phone=phone,
                        full_name=full_name.strip()[:200],
                        birthday=birthday,
                        source=source,
                        source_detail=detail[:120],
                        consent=consent,
                    )
            except IntegrityError:  # the same phone joined in a parallel request
                client = Client.objects.select_for_update().get(merchant=merchant, phone=phone)
                created = False
        if not created:
            changed = []
            if full_name.strip() and not client.full_name:
                client.full_name = full_name.strip()[:200]
                changed.append("full_name")
            if birthday and not client.birthday:
                client.birthday = birthday
                changed.append("birthday")
            if changed:
                client.save(update_fields=[*changed, "updated_at"])
        was_member = client.joined_at is not None
        referrer = None
        if inviter is not None:
            if was_member or client.referred_by_id:
                notes.append(
                    _("You were already in the program, so the invitation was not counted.")
                )
            else:
                try:
                    referrer_assign(client=client, referrer=inviter)
                    referrer = inviter
                except LoyaltyError as exc:
                    notes.append(exc.message)
        channels_api.consent_set(
            client=client,
            given=consent,
            source=_("card page: joining (%(channel)s)") % {"channel": channel},
            ip=ip,
        )
        result = client_join(merchant=merchant, client=client)
        client = result.client
        card_code_ensure(client=client)
        card_profile_ensure(client=client, join_channel=channel)
        certificate = None
        if code_row is not None:
            try:
                with transaction.atomic():
                    certificate = partner_code_redeem(
                        merchant=merchant, code=code_row.code, client=client, via="card"
                    )
            except CardError as exc:
                notes.append(exc.message)
        if result.joined:
            counter_hit(merchant=merchant, event=CardCounter.Event.JOIN, channel=channel)
    return JoinOutcome(
        client=client,
        created=created,
        joined=result.joined,
        welcome_points=result.welcome_points,
        referrer=referrer,
        certificate=certificate,
        notes=notes,
    )


def join_channel_of(src: str, *, invite_code: str = "", partner_code: str = "") -> str:
    """The channel a join is counted under: a partner code, an invitation, then ?src=."""
    if partner_code:
        return "partner"
    if invite_code:
        return "invite"
    return src if src in JOIN_CHANNELS else "link"


# ── card sessions ──────────────────────────────────────────────────────────────────────


def card_session_start(*, client: Client) -> str:
    """Start a card session for a member on this device; returns the token the browser
    keeps (only its hash is stored)."""
    token = token_new()
    now = timezone.now()
    CardSession.objects.create(
        client=client,
        merchant_id=client.merchant_id,
        token_hash=token_hash(token),
        created_at=now,
        last_seen_at=now,
    )
    return token


def card_session_client(*, merchant: Merchant, token: str | None) -> Client | None:
    """The member signed in with `token` at this merchant (None if unknown, ended, expired
    or another merchant's)."""
    if not token:
        return None
    now = timezone.now()
    session = (
        CardSession.objects.select_related("client", "client__tier")
        .filter(
            token_hash=token_hash(token),
            merchant=merchant,
            ended_at__isnull=True,
            client__merchant=merchant,
        )
        .first()
    )
    if session is None or session.last_seen_at < now - SESSION_LIFETIME:
        return None
    if session.last_seen_at < now - SESSION_TOUCH_EVERY:
        CardSession.objects.filter(pk=session.pk).update(last_seen_at=now)
    return session.client


def card_session_end(*, token: str | None) -> None:
    if token:
        CardSession.objects.filter(token_hash=token_hash(token), ended_at__isnull=True).update(
            ended_at=timezone.now()
        )


# ── feedback ───────────────────────────────────────────────────────────────────────────


def feedback_due(*, client: Client) -> FeedbackRequest | None:
    """The open feedback request of a client who has made another N purchases (N is the
    program's `feedback_every_purchases`), created once per N-th purchase; None if none."""
    program = getattr(client.merchant, "program", None)
    every = program.feedback_every_purchases if program else None
    if not every:
        return None
    sequence = client.purchases_count // every
    if sequence < 1:
        return None
    request = FeedbackRequest.objects.filter(client=client, sequence=sequence).first()
    if request is None:
        last = (
            Purchase.objects.filter(client=client)
            .order_by("-occurred_at", "-pk")
            .values_list("pk", flat=True)
            .first()
        )
        try:
            with transaction.atomic():
                request = FeedbackRequest.objects.create(
                    merchant_id=client.merchant_id,
                    client=client,
                    sequence=sequence,
                    purchase_id=last,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            request = FeedbackRequest.objects.get(client=client, sequence=sequence)
    if request.answered_at or request.dismissed_at:
        return None
    return request


def feedback_answer(*, request_id: int, client: Client, rating: int, text: str = "") -> Review:
    """Store the answer as a review (platform "in-app") of the client's merchant: it feeds the
    dashboard's ratings and, on commit, the review-reward campaign. Once per request."""
    if not 1 <= int(rating) <= 5:
        raise CardError(_("Choose a rating from 1 to 5."))
    with transaction.atomic():
        request = (
            FeedbackRequest.objects.select_for_update().filter(pk=request_id, client=client).first()
        )
        if request is None:
            raise CardError(_("This feedback request is not yours."))
        if request.answered_at:
            raise CardError(_("You have already answered, thank you."))
        now = timezone.now()
        review = Review.objects.create(
            merchant_id=client.merchant_id,
            client=client,
            purchase_id=request.purchase_id,
            platform=Review.Platform.APP,
            rating=int(rating),
            text=text.strip()[:4000],
            created_at=now,
        )
        request.review = review
        request.answered_at = now
        request.save(update_fields=["review", "answered_at"])
    return review


def feedback_dismiss(*, request_id: int, client: Client) -> None:
    FeedbackRequest.objects.filter(
        pk=request_id, client=client, answered_at__isnull=True, dismissed_at__isnull=True
    ).update(dismissed_at=timezone.now())


# ── counters ───────────────────────────────────────────────────────────────────────────


def counter_hit(*, merchant: Merchant, event: str, channel: str = "", by: int = 1) -> None:
    """Add to today's (merchant's local day) counter: one UPDATE, an INSERT the first time."""
    day = merchant.local_today()
    key = {"merchant": merchant, "day": day, "event": event, "channel": channel[:16]}
    if CardCounter.objects.filter(**key).update(count=F("count") + by):
        return
    try:
        with transaction.atomic():
            CardCounter.objects.create(**key, count=by)
    except IntegrityError:
        CardCounter.objects.filter(**key).update(count=F("count") + by)
