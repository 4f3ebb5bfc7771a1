"""Onboarding checklists: applying templates, completing tasks, the launch gate and the
specialists' progress overview.

The launch gate lives in `merchant_set_status` only: the admin, the demo and any command
change a merchant's onboarding status through it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .facts import facts_for, facts_sync, task_fact_override, time_to_value
from .models import (
    OPEN_TASK_STATUSES,
    ChecklistTemplate,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    OnboardingStatus,
    TaskStatus,
)
from .training import demo_training


class LaunchBlocked(ValidationError):
    """Raised when a merchant would be launched with required tasks not done."""

    def __init__(self, blockers: list[MerchantTask] | None, message: str):
        super().__init__(message, code="launch_blocked")
        self.blockers = blockers or []


@transaction.atomic
def template_items_for(*, template: ChecklistTemplate, merchant: Merchant):
    """The template's items that apply to the merchant: the general ones and the steps of
    the merchant's own POS integration."""
    return template.items.filter(Q(integration="") | Q(integration=merchant.pos_integration))


def template_apply(
    *,
    merchant: Merchant,
    template: ChecklistTemplate,
    actor=None,
    start: dt.date | None = None,
) -> list[MerchantTask]:
    """Create the merchant's tasks from `template`; due dates are `start` (default: the
    merchant's local today) plus each item's offset. Items already applied are skipped, so
    applying twice creates (and logs) nothing new. Returns the created tasks."""
    start = start or merchant.local_today()
    already = set(
        MerchantTask.objects.filter(
            merchant=merchant, template_item__template=template
        ).values_list("template_item_id", flat=True)
    )
    tasks = [
        MerchantTask(
            merchant=merchant,
            template_item=item,
            side=item.side,
            title=item.title,
            required=item.required,
            fact=item.fact,
            fact_threshold=item.fact_threshold,
            due_date=start + dt.timedelta(days=item.due_offset_days),
            position=item.position,
        )
        for item in template_items_for(template=template, merchant=merchant)
        if item.pk not in already
    ]
    if not tasks:
        return []
    MerchantTask.objects.bulk_create(tasks)
    if merchant.onboarding_started_on is None or merchant.onboarding_started_on > start:
        merchant.onboarding_started_on = start
        Merchant.objects.filter(pk=merchant.pk).update(onboarding_started_on=start)
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.TEMPLATE_APPLIED,
        actor=actor,
        details={"template": template.name, "created": len(tasks), "start": start.isoformat()},
    )
    return tasks


def task_set_status(
    *, task: MerchantTask, status: str, actor=None, comment: str | None = None, save: bool = True
) -> MerchantTask:
    """Move a task to `status`. Done records who and when (kept if it was done already);
    reopening clears them. Marking a fact-checked task done while its fact does not hold
    needs `task.fact_override_reason` (raises ValidationError) and is logged."""
    task.status = status
    if status == TaskStatus.DONE:
        if task.completed_at is None:
            task_fact_override(task=task, reason=task.fact_override_reason, actor=actor)
            task.completed_at = timezone.now()
            task.completed_by = actor
    else:
        task.completed_at = None
        task.completed_by = None
    if comment is not None:
        task.comment = comment
    if save:
        task.save()
    return task


def tasks_overdue(*, merchant: Merchant) -> QuerySet[MerchantTask]:
    """Open tasks whose due date is before the merchant's local today."""
    return MerchantTask.objects.filter(
        merchant=merchant, status__in=OPEN_TASK_STATUSES, due_date__lt=merchant.local_today()
    )


def task_is_overdue(task: MerchantTask, *, today: dt.date | None = None) -> bool:
    if not task.is_open or task.due_date is None:
        return False
    today = today or task.merchant.local_today()
    return task.due_date < today


def launch_blockers(
    *, merchant: Merchant, pending: dict[int, str] | None = None
) -> list[MerchantTask]:
    """Required tasks that are not done (a required task marked "not needed" still blocks).
    `pending` maps task ids to statuses submitted in the same save, not stored yet."""
    if merchant.pk is None:
        return []
    tasks = MerchantTask.objects.filter(merchant=merchant, required=True).order_by(
        "due_date", "position", "id"
    )
    if not pending:
        return list(tasks.exclude(status=TaskStatus.DONE))
    return [t for t in tasks if pending.get(t.pk, t.status) != TaskStatus.DONE]


def launch_check(*, merchant: Merchant, pending: dict[int, str] | None = None) -> None:
    """Raise `LaunchBlocked` unless the merchant may be launched without an override.
    Tasks whose facts hold are ticked first; `pending` as in `launch_blockers`."""
    if merchant.pk is not None:
        facts_sync(merchants=[merchant])
    has_tasks = merchant.pk is not None and MerchantTask.objects.filter(merchant=merchant).exists()
    if not has_tasks:
        raise LaunchBlocked(
            [],
            _(
                "No onboarding checklist has been applied to this merchant. Apply a checklist "
                "and complete its required tasks, or launch with an override reason."
            ),
        )
    blockers = launch_blockers(merchant=merchant, pending=pending)
    if blockers:
        titles = "; ".join(t.title for t in blockers[:5])
        more = len(blockers) - 5
        message = ngettext(
            "The merchant cannot be launched: %(count)d required task is not done: %(titles)s",
            "The merchant cannot be launched: %(count)d required tasks are not done: %(titles)s",
            len(blockers),
        ) % {"count": len(blockers), "titles": titles}
        if more > 0:
            message += " " + _("and %(more)d more.") % {"more": more}
        message += " " + _("Complete them, or give an override reason.")
        raise LaunchBlocked(blockers, message)


@transaction.atomic
def merchant_set_status(
    *,
    merchant: Merchant,
    status: str,
    actor=None,
    override_reason: str = "",
    previous_status: str | None = None,
) -> Merchant:
    """Change the merchant's onboarding status, logging who and when.

    Moving to "launched" requires every required task done; otherwise a non-empty
    `override_reason` lets the specialist launch anyway, logged as an override event with
    the open required tasks. Raises `LaunchBlocked` when neither holds.
    `previous_status` is the status before an unsaved in-memory change (admin forms)."""
    old = previous_status if previous_status is not None else merchant.onboarding_status
    if merchant.pk is not None and previous_status is None:
        old = (
            Merchant.objects.filter(pk=merchant.pk)
            .values_list("onboarding_status", flat=True)
            .first()
            or old
        )
    override_reason = (override_reason or "").strip()
    if status == old:
        return merchant
    if status == OnboardingStatus.LAUNCHED:
        try:
            launch_check(merchant=merchant)
        except LaunchBlocked as blocked:
            if not override_reason:
                raise
            OnboardingEvent.objects.create(
                merchant=merchant,
                kind=OnboardingEvent.Kind.LAUNCH_OVERRIDE,
                actor=actor,
                from_status=old,
                to_status=status,
                reason=override_reason,
                details={"open_required_tasks": [t.title for t in blocked.blockers]},
            )
    merchant.onboarding_status = status
    if merchant.pk is None:
        merchant.save()
    else:
        Merchant.objects.filter(pk=merchant.pk).update(onboarding_status=status)
    OnboardingEvent.objects.create(
        merchant=merchant,
        kind=OnboardingEvent.Kind.STATUS_CHANGED,
        actor=actor,
        from_status=old,
        to_status=status,
        reason=override_reason,
    )
    return merchant


# --- Specialists' progress overview ---------------------------------------------------------


@dataclass
class MerchantProgress:
    merchant: Merchant
    total: int
    done: int
    overdue: int
    next_title: str | None
    next_due: dt.date | None
    started_on: dt.date | None = None
    first_purchase_days: int | None = None
    hundredth_purchase_days: int | None = None

    @property
    def percent(self) -> int:
        return round(self.done * 100 / self.total) if self.total else 0


PROGRESS_SORTS = {
    "name": lambda p: p.merchant.name.lower(),
    "status": lambda p: p.merchant.onboarding_status,
    "percent": lambda p: p.percent,
    "overdue": lambda p: p.overdue,
    "next_due": lambda p: (p.next_due is None, p.next_due or dt.date.max),
    "first_purchase": lambda p: (p.first_purchase_days is None, p.first_purchase_days or 0),
    "hundredth_purchase": lambda p: (
        p.hundredth_purchase_days is None,
        p.hundredth_purchase_days or 0,
    ),
}


def overdue_condition(merchants: QuerySet[Merchant], prefix: str = "") -> Q:
    """A Q over tasks that are open and due before their merchant's local today — one
    branch per time zone, so the comparison stays in the database."""
    zones = set(merchants.values_list("time_zone", flat=True).distinct())
    now = timezone.now()
    condition = Q(pk__in=[])
    for zone in zones:
        today = now.astimezone(Merchant(time_zone=zone).tzinfo).date()
        condition |= Q(**{f"{prefix}merchant__time_zone": zone, f"{prefix}due_date__lt": today})
    return Q(**{f"{prefix}status__in": OPEN_TASK_STATUSES}) & condition


def merchants_progress(
    *, merchants: QuerySet[Merchant], sort: str = "name", descending: bool = False
) -> list[MerchantProgress]:
    """Percent done, overdue count, next due item and time to value for each merchant;
    tasks whose facts hold are ticked first. A fixed number of queries."""
    merchants = list(merchants.order_by("name"))
    facts = facts_for(merchants=merchants)
    facts_sync(merchants=merchants, facts=facts)
    merchants = Merchant.objects.filter(pk__in=[m.pk for m in merchants])
    open_tasks = MerchantTask.objects.filter(
        merchant=OuterRef("pk"), status__in=OPEN_TASK_STATUSES
    ).order_by("due_date", "position", "id")
    rows = merchants.annotate(
        task_total=Count("tasks", filter=~Q(tasks__status=TaskStatus.SKIPPED)),
        task_done=Count("tasks", filter=Q(tasks__status=TaskStatus.DONE)),
        task_overdue=Count("tasks", filter=overdue_condition(merchants, prefix="tasks__")),
        next_title=Subquery(open_tasks.values("title")[:1]),
        next_due=Subquery(open_tasks.values("due_date")[:1]),
    ).order_by("name")
    result = []
    for m in rows:
        ttv = time_to_value(merchant=m, facts=facts[m.pk])
        result.append(
            MerchantProgress(
                merchant=m,
                total=m.task_total,
                done=m.task_done,
                overdue=m.task_overdue,
                next_title=m.next_title,
                next_due=m.next_due,
                started_on=ttv.started_on,
                first_purchase_days=ttv.first_purchase_days,
                hundredth_purchase_days=ttv.hundredth_purchase_days,
            )
        )
    key = PROGRESS_SORTS.get(sort, PROGRESS_SORTS["name"])
    result.sort(key=key, reverse=descending)
    return result


# --- Demo -----------------------------------------------------------------------------------


def demo_onboarding(
    merchant: Merchant,
    *,
    actions: list[str] | None = None,
    extra_actions: list[tuple[str, str]] | None = None,
) -> None:
    """Demo checklist and training for one merchant, following its seed. Idempotent.

    A launched merchant's checklist was applied a month before launch: the items its seed
    names in `actions` are done on their due dates, the others are "not needed", and the
    seed's own actions the template lacks (`extra_actions`, (side, title)) are added done.
    Without `actions` every item counts as the seed's. A merchant not launched yet has its checklist applied a week ago, so its tasks fall due
    around today; its seed actions already due are done. Then the standard training
    modules, a few attestations and a quiz link per staff member."""
    template = ChecklistTemplate.objects.filter(is_default=True).first()
    launched = merchant.onboarding_status == OnboardingStatus.LAUNCHED
    today = merchant.local_today()
    wanted = None if actions is None else set(actions)
    if template is not None:
        launch = merchant.launch_date or today
        start = launch - dt.timedelta(days=30) if launched else today - dt.timedelta(days=7)
        created = template_apply(merchant=merchant, template=template, start=start)
        for task in created:
            if (wanted is None or task.title in wanted) and (launched or task.due_date < today):
                task.status = TaskStatus.DONE
                task.completed_at = timezone.make_aware(
                    dt.datetime.combine(task.due_date, dt.time(12)), merchant.tzinfo
                )
            elif launched:
                task.status = TaskStatus.SKIPPED
        MerchantTask.objects.bulk_update(created, ["status", "completed_at"])
    if launched:
        done_on = timezone.make_aware(
            dt.datetime.combine(merchant.launch_date or today, dt.time(12)), merchant.tzinfo
        )
        for position, (side, title) in enumerate(extra_actions or [], start=100):
            MerchantTask.objects.get_or_create(
                merchant=merchant,
                title=title,
                defaults={
                    "side": side,
                    "required": False,
                    "due_date": merchant.launch_date or today,
                    "position": position,
                    "status": TaskStatus.DONE,
                    "completed_at": done_on,
                },
            )
    demo_training(merchant)
