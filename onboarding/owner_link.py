"""The owner link: a signed, expiring, revocable and read-only link to the owner's page
(onboarding progress and Point B) that needs no password.

The URL carries `<random>.<signature>`: the signature (Django's signer, salted) refuses a
tampered token before any lookup, only the SHA-256 of the random part is stored, and every
opening is logged. The page itself is served by `reports.owner_page`; this module holds the
rules — create, revoke, resolve — and the progress the page shows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .access import can_edit_merchant
from .facts import facts_for
from .models import (
    ChecklistSide,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    OwnerLink,
    OwnerLinkUse,
    TaskStatus,
)
from .tokens import token_hash, token_new

DEFAULT_DAYS = 30
MAX_DAYS = 180
_signer = signing.Signer(salt="onboarding.owner_link", sep=".")


@dataclass
class CreatedLink:
    link: OwnerLink
    url: str  # shown once: only the token's hash is stored


def owner_link_path(*, merchant: Merchant, token: str) -> str:
    return reverse("reports:owner_page", args=[merchant.slug, token])


@transaction.atomic
def owner_link_create(
    *,
    merchant: Merchant,
    actor,
    days: int = DEFAULT_DAYS,
    recipient: str = "",
    send: bool = False,
    base_url: str = "",
) -> CreatedLink:
    """Issue a link valid for `days` days; e-mail it to `recipient` when `send`. Raises
    PermissionDenied if `actor` may not edit the merchant, ValidationError on bad input."""
    if not can_edit_merchant(actor, merchant):
        raise PermissionDenied
    if not isinstance(days, int) or not 1 <= days <= MAX_DAYS:
        raise ValidationError(
            {"days": _("A link is valid for 1 to %(max)d days.") % {"max": MAX_DAYS}}
        )
    recipient = (recipient or "").strip()
    if send and "@" not in recipient:
        raise ValidationError({"recipient": _("An e-mail is needed to send the link.")})
    raw = token_new()
    now = timezone.now()
    link = OwnerLink.objects.create(
        merchant=merchant,
        token_hash=token_hash(raw),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
        created_by=actor,
        recipient=recipient[:254],
    )
    url = base_url.rstrip("/") + owner_link_path(merchant=merchant, token=_signer.sign(raw))
    if send:
        send_mail(
            _("%(merchant)s: how the launch is going") % {"merchant": merchant.name},
            _(
                "Hello!\n\nThis link shows the progress of the loyalty program's launch and "
                "its results so far, without a password:\n%(url)s\n\n"
                "It works until %(until)s. Please do not forward it."
            )
            % {
                "url": url,
                "until": timezone.localtime(link.expires_at, merchant.tzinfo).strftime(
                    "%d.%m.%Y %H:%M"
                ),
            },
            settings.DEFAULT_FROM_EMAIL,
            [recipient],
        )
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.OWNER_LINK_CREATED,
        actor=actor,
        details={"link": link.pk, "days": days, "recipient": recipient, "sent": send},
    )
    return CreatedLink(link=link, url=url)


@transaction.atomic
def owner_link_revoke(*, link: OwnerLink, actor) -> bool:
    """Switch the link off for good; False if it was already revoked."""
    if not can_edit_merchant(actor, link.merchant):
        raise PermissionDenied
    updated = OwnerLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        OnboardingEvent.objects.create(
            merchant_id=link.merchant_id,
            kind=OnboardingEvent.Kind.OWNER_LINK_REVOKED,
            actor=actor,
            details={"link": link.pk},
        )
    return bool(updated)


def owner_link_resolve(
    *, slug: str, token: str, ip: str | None = None, user_agent: str = ""
) -> OwnerLink | None:
    """The live link of merchant `slug` that `token` opens, logging the opening; None when
    the token is tampered with, unknown, another merchant's, expired or revoked."""
    try:
        raw = _signer.unsign(token)
    except signing.BadSignature:
        return None
    link = (
        OwnerLink.objects.select_related("merchant")
        .filter(token_hash=token_hash(raw), merchant__slug=slug)
        .first()
    )
    if link is None or not link.is_live():
        return None
    OwnerLinkUse.objects.create(link=link, ip=ip, user_agent=(user_agent or "")[:300])
    return link


def owner_links(*, merchant: Merchant):
    """The merchant's links, newest first, each with its opening count and last opening."""
    from django.db.models import Count, Max

    return (
        OwnerLink.objects.filter(merchant=merchant)
        .select_related("created_by")
        .annotate(use_count=Count("uses"), last_used=Max("uses__used_at"))
        .order_by("-created_at", "-id")
    )


# --- What the owner sees ---------------------------------------------------------------------

ON_TIME, LATE, DONE, DONE_LATE, SKIPPED = "on_time", "late", "done", "done_late", "skipped"
TASK_STATE_LABELS = {
    ON_TIME: _("on time"),
    LATE: _("late"),
    DONE: _("done"),
    DONE_LATE: _("done late"),
    SKIPPED: _("not needed"),
}


@dataclass
class OwnerTask:
    title: str
    side: str
    due_date: dt.date | None
    state: str
    completed_on: dt.date | None
    responsible: str

    @property
    def state_label(self) -> str:
        return str(TASK_STATE_LABELS[self.state])


@dataclass
class OwnerProgress:
    theirs: list[OwnerTask]  # the business's tasks
    ours: list[OwnerTask]  # the implementation specialist's tasks
    done: int
    total: int
    late: int
    next_task: OwnerTask | None

    @property
    def percent(self) -> int:
        return round(self.done * 100 / self.total) if self.total else 0


def owner_progress(*, merchant: Merchant, today: dt.date | None = None) -> OwnerProgress:
    """The checklist as the owner reads it, without writing anything: a task whose fact holds
    counts as done even before the hub ticks it. Late: open past its due date (merchant's
    local today), or done after it. Two queries plus the facts."""
    today = today or merchant.local_today()
    facts = facts_for(merchants=[merchant])[merchant.pk]
    tasks = sorted(
        MerchantTask.objects.filter(merchant=merchant).select_related("responsible"),
        key=lambda t: (t.due_date is None, t.due_date or today, t.position, t.pk),
    )
    rows: list[OwnerTask] = []
    for task in tasks:
        completed = (
            timezone.localtime(task.completed_at, merchant.tzinfo).date()
            if task.completed_at
            else None
        )
        if task.status == TaskStatus.SKIPPED:
            state = SKIPPED
        elif task.status == TaskStatus.DONE or (
            task.fact and facts.holds(task.fact, task.fact_threshold)
        ):
            late = bool(task.due_date and completed and completed > task.due_date)
            state = DONE_LATE if late else DONE
        elif task.due_date and task.due_date < today:
            state = LATE
        else:
            state = ON_TIME
        who = task.responsible_name or (
            task.responsible.get_full_name() or task.responsible.get_username()
            if task.responsible
            else ""
        )
        rows.append(OwnerTask(task.title, task.side, task.due_date, state, completed, who))
    counted = [r for r in rows if r.state != SKIPPED]
    open_rows = [r for r in counted if r.state in (ON_TIME, LATE)]
    return OwnerProgress(
        theirs=[r for r in rows if r.side == ChecklistSide.BUSINESS],
        ours=[r for r in rows if r.side != ChecklistSide.BUSINESS],
        done=len(counted) - len(open_rows),
        total=len(counted),
        late=sum(1 for r in open_rows if r.state == LATE),
        next_task=min(
            open_rows, key=lambda r: (r.due_date is None, r.due_date or today), default=None
        ),
    )
