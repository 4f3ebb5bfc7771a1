"""Facts of a merchant's data that complete checklist tasks, and time to value.

A checklist task may name a fact (`ChecklistFact`) and a threshold. `facts_for` reads every
fact of many merchants in a fixed number of queries (never one per task or per merchant);
`facts_sync` ticks the open tasks whose fact holds. A task whose fact does not hold may be
marked done only with an override reason, logged like the launch override
(`task_fact_override`).

Over 400 lines: one idea, every fact read set-based for many merchants; a fact's query and its
description belong together."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, F, Q, QuerySet, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import Client
from loyalty.models import Campaign, CampaignIssuance, Purchase, Refund, Tier
from loyalty.pos.models import PosEvent

from .models import (
    OPEN_TASK_STATUSES,
    Attestation,
    Branch,
    ChecklistFact,
    Merchant,
    MerchantTask,
    OnboardingEvent,
    PosIntegration,
    StaffMember,
    TaskStatus,
    TrainingModule,
)

# Threshold used when a task names a fact but no N.
DEFAULT_THRESHOLDS = {
    ChecklistFact.CLIENTS_IMPORTED: 1,
    ChecklistFact.CARD_PURCHASES: 100,
    ChecklistFact.STAFF_ATTESTED: 80,
}
TILL_SOURCES = ("cashier", "evotor", "poster", "api")
# The purchase source (and POS event system) of each integration.
POS_SOURCE = {
    PosIntegration.NONE: "cashier",
    PosIntegration.EVOTOR: "evotor",
    PosIntegration.POSTER: "poster",
}
TIME_TO_VALUE_PURCHASES = (1, 100)


@dataclass
class MerchantFacts:
    """What the merchant's data shows, for the checklist and the hub."""

    merchant_id: int
    imported_clients: int = 0
    clients: int = 0
    tiers: int = 0
    campaigns: int = 0
    issuances: int = 0
    pos_events: int = 0
    till_purchases: int = 0
    card_purchases: int = 0
    branches: int = 0
    branches_with_purchase: int = 0
    staff: int = 0
    staff_attested: int = 0
    modules: int = 0
    owners: int = 0
    logins: int = 0
    # POS readiness of the merchant's own integration (Evotor, Poster or the cashier page).
    pos_integration: str = PosIntegration.NONE
    pos_credentials: bool = False
    pos_signed_events: int = 0
    pos_sales: int = 0
    pos_refunds: int = 0
    # Merchant-local dates of the 1st and 100th card purchase.
    purchase_dates: dict[int, dt.datetime] = field(default_factory=dict)

    @property
    def staff_attested_percent(self) -> int:
        return round(self.staff_attested * 100 / self.staff) if self.staff else 0

    def holds(self, fact: str, threshold: int | None = None) -> bool:
        """Whether `fact` (a ChecklistFact value) holds with threshold N (or its default)."""
        n = threshold if threshold is not None else DEFAULT_THRESHOLDS.get(fact, 1)
        if fact == ChecklistFact.CLIENTS_IMPORTED:
            return self.imported_clients >= max(n, 1)
        if fact == ChecklistFact.PROGRAM_CONFIGURED:
            return self.tiers > 0
        if fact == ChecklistFact.POS_EVENT:
            return self.pos_events > 0 or self.till_purchases > 0
        if fact == ChecklistFact.PURCHASE_EVERY_BRANCH:
            return self.branches > 0 and self.branches_with_purchase >= self.branches
        if fact == ChecklistFact.CARD_PURCHASES:
            return self.card_purchases >= max(n, 1)
        if fact == ChecklistFact.STAFF_ATTESTED:
            return self.staff > 0 and self.staff_attested_percent >= n
        if fact == ChecklistFact.CAMPAIGN_ISSUED:
            return self.issuances > 0
        if fact == ChecklistFact.POS_CREDENTIALS:
            return self.pos_credentials
        if fact == ChecklistFact.POS_TEST_EVENT:
            return self.pos_signed_events > 0
        if fact == ChecklistFact.POS_FIRST_SALE:
            return self.pos_sales > 0
        if fact == ChecklistFact.POS_FIRST_REFUND:
            return self.pos_refunds > 0
        return False

    def describe(self, fact: str) -> str:
        """What the data shows now, for the task row ("42 clients imported")."""
        if fact == ChecklistFact.CLIENTS_IMPORTED:
            return _("imported clients: %(n)d") % {"n": self.imported_clients}
        if fact == ChecklistFact.PROGRAM_CONFIGURED:
            return _("tiers: %(n)d") % {"n": self.tiers}
        if fact == ChecklistFact.POS_EVENT:
            return _("sales from the till: %(n)d") % {"n": self.pos_events + self.till_purchases}
        if fact == ChecklistFact.PURCHASE_EVERY_BRANCH:
            return _("branches with a card purchase: %(done)d of %(all)d") % {
                "done": self.branches_with_purchase,
                "all": self.branches,
            }
        if fact == ChecklistFact.CARD_PURCHASES:
            return _("card purchases: %(n)d") % {"n": self.card_purchases}
        if fact == ChecklistFact.STAFF_ATTESTED:
            return _("staff attested: %(done)d of %(all)d") % {
                "done": self.staff_attested,
                "all": self.staff,
            }
        if fact == ChecklistFact.CAMPAIGN_ISSUED:
            return _("campaign rewards issued: %(n)d") % {"n": self.issuances}
        if fact == ChecklistFact.POS_CREDENTIALS:
            return _("credentials saved") if self.pos_credentials else _("no credentials yet")
        if fact == ChecklistFact.POS_TEST_EVENT:
            return _("signed events received: %(n)d") % {"n": self.pos_signed_events}
        if fact == ChecklistFact.POS_FIRST_SALE:
            return _("sales recorded from the till: %(n)d") % {"n": self.pos_sales}
        if fact == ChecklistFact.POS_FIRST_REFUND:
            return _("refunds recorded from the till: %(n)d") % {"n": self.pos_refunds}
        return ""


def _counts(queryset, key: str = "merchant_id", **aggregates) -> dict[int, dict]:
    return {row[key]: row for row in queryset.values(key).annotate(**aggregates).order_by()}


def facts_for(*, merchants: QuerySet[Merchant] | list[Merchant]) -> dict[int, MerchantFacts]:
    """Every fact of every given merchant, in a fixed number of queries."""
    ids = (
        [m.pk for m in merchants]
        if isinstance(merchants, list)
        else list(merchants.values_list("pk", flat=True))
    )
    facts = {pk: MerchantFacts(merchant_id=pk) for pk in ids}
    if not ids:
        return facts
    for pk, row in _counts(
        Client.objects.filter(merchant_id__in=ids),
        clients=Count("pk"),
        imported=Count("pk", filter=Q(imported=True)),
    ).items():
        facts[pk].clients, facts[pk].imported_clients = row["clients"], row["imported"]
    for pk, row in _counts(
        Tier.objects.filter(program__merchant_id__in=ids), "program__merchant_id", n=Count("pk")
    ).items():
        facts[pk].tiers = row["n"]
    for pk, row in _counts(
        CampaignIssuance.objects.filter(merchant_id__in=ids), n=Count("pk")
    ).items():
        facts[pk].issuances = row["n"]
    for pk, row in _counts(Campaign.objects.filter(merchant_id__in=ids), n=Count("pk")).items():
        facts[pk].campaigns = row["n"]
    for pk, row in _counts(
        PosEvent.objects.filter(merchant_id__in=ids, status=PosEvent.Status.ACCEPTED),
        n=Count("pk"),
    ).items():
        facts[pk].pos_events = row["n"]
    card = Purchase.objects.filter(merchant_id__in=ids, client__isnull=False)
    for pk, row in _counts(
        card,
        n=Count("pk"),
        till=Count("pk", filter=Q(source__in=TILL_SOURCES)),
        branches=Count("branch_id", distinct=True, filter=Q(branch__is_active=True)),
    ).items():
        facts[pk].card_purchases = row["n"]
        facts[pk].till_purchases = row["till"]
        facts[pk].branches_with_purchase = row["branches"]
    for pk, row in _counts(
        Branch.objects.filter(merchant_id__in=ids, is_active=True), n=Count("pk")
    ).items():
        facts[pk].branches = row["n"]
    ranked = (
        card.annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("merchant_id")],
                order_by=[F("occurred_at").asc(), F("pk").asc()],
            )
        )
        .filter(rank__in=TIME_TO_VALUE_PURCHASES)
        .values_list("merchant_id", "rank", "occurred_at")
    )
    for pk, rank, occurred_at in ranked:
        facts[pk].purchase_dates[rank] = occurred_at
    _staff_facts(facts, ids)
    for pk, row in _counts(
        Merchant.owners.through.objects.filter(merchant_id__in=ids, user__is_active=True),
        n=Count("pk"),
    ).items():
        facts[pk].owners = row["n"]
    for pk, row in _counts(
        StaffMember.objects.filter(
            merchant_id__in=ids, is_active=True, user__isnull=False, user__is_active=True
        ),
        n=Count("pk"),
    ).items():
        facts[pk].logins = row["n"]
    _pos_facts(facts, ids)  # after the logins: the cashier page's credentials are a login
    return facts


def _pos_facts(facts: dict[int, MerchantFacts], ids: list[int]) -> None:
    """Readiness of each merchant's own integration: credentials saved, a signed (that is,
    authenticated) event received, the first sale and the first refund recorded from it."""
    for row in Merchant.objects.filter(pk__in=ids).values(
        "pk", "pos_integration", "evotor_token_hash", "poster_account",
        "poster_client_secret", "poster_api_token",
    ):  # fmt: skip
        f = facts[row["pk"]]
        f.pos_integration = row["pos_integration"]
        if f.pos_integration == PosIntegration.EVOTOR:
            f.pos_credentials = bool(row["evotor_token_hash"])
        elif f.pos_integration == PosIntegration.POSTER:
            f.pos_credentials = all(
                row[k] for k in ("poster_account", "poster_client_secret", "poster_api_token")
            )
        else:  # the cashier page: a cashier can sign in
            f.pos_credentials = f.logins > 0
    signed = PosEvent.objects.filter(merchant_id__in=ids).exclude(
        status__in=(PosEvent.Status.UNAUTHORIZED, PosEvent.Status.REJECTED)
    )
    sources = POS_SOURCE.values()
    counted = (
        ("pos_signed_events", signed, "system"),
        ("pos_sales", Purchase.objects.filter(merchant_id__in=ids, source__in=sources), "source"),
        (
            "pos_refunds",
            Refund.objects.filter(merchant_id__in=ids, purchase__source__in=sources),
            "purchase__source",
        ),
    )
    for attribute, queryset, source_field in counted:
        rows = queryset.values_list("merchant_id", source_field).annotate(n=Count("pk"))
        for pk, source, n in rows.order_by():
            if source == POS_SOURCE[facts[pk].pos_integration]:  # only its own integration's
                setattr(facts[pk], attribute, n)


def staff_attestation(ids: list[int]) -> tuple[dict, dict, dict]:
    """Per merchant (dicts of id sets): its active modules, its attested staff (active staff,
    owners aside, whose latest attempt at every active module passed) and its active staff.
    Three queries."""
    modules: dict[int, set[int]] = defaultdict(set)
    for merchant_id, module_id in TrainingModule.objects.filter(
        merchant_id__in=ids, is_active=True
    ).values_list("merchant_id", "pk"):
        modules[merchant_id].add(module_id)
    staff: dict[int, set[int]] = defaultdict(set)
    for merchant_id, staff_id in (
        StaffMember.objects.filter(merchant_id__in=ids, is_active=True)
        .exclude(role="owner")
        .values_list("merchant_id", "pk")
    ):
        staff[merchant_id].add(staff_id)
    latest: dict[tuple[int, int], bool] = {}
    for staff_id, module_id, passed in (
        Attestation.objects.filter(merchant_id__in=ids, module__is_active=True)
        .order_by("staff_id", "module_id", "-taken_at", "-attempt")
        .values_list("staff_id", "module_id", "passed")
    ):
        latest.setdefault((staff_id, module_id), passed)
    attested: dict[int, set[int]] = defaultdict(set)
    for merchant_id in ids:
        if modules[merchant_id]:
            attested[merchant_id] = {
                staff_id
                for staff_id in staff[merchant_id]
                if all(latest.get((staff_id, m)) for m in modules[merchant_id])
            }
    return modules, attested, staff


def _staff_facts(facts: dict[int, MerchantFacts], ids: list[int]) -> None:
    modules, attested, staff = staff_attestation(ids)
    for merchant_id in ids:
        facts[merchant_id].modules = len(modules[merchant_id])
        facts[merchant_id].staff = len(staff[merchant_id])
        facts[merchant_id].staff_attested = len(attested[merchant_id])


def task_fact_holds(task: MerchantTask, facts: MerchantFacts) -> bool:
    return bool(task.fact) and facts.holds(task.fact, task.fact_threshold)


@transaction.atomic
def facts_sync(
    *,
    merchants: QuerySet[Merchant] | list[Merchant],
    facts: dict[int, MerchantFacts] | None = None,
) -> int:
    """Tick the open tasks of `merchants` whose fact holds (done, by nobody, now), logging one
    event per merchant that had tasks ticked. `facts` (from `facts_for`) saves reading them
    again. Returns the number of tasks ticked."""
    ids = (
        [m.pk for m in merchants]
        if isinstance(merchants, list)
        else list(merchants.values_list("pk", flat=True))
    )
    open_tasks = list(
        MerchantTask.objects.filter(merchant_id__in=ids, status__in=OPEN_TASK_STATUSES).exclude(
            fact=""
        )
    )
    if not open_tasks:
        return 0
    if facts is None:
        facts = facts_for(
            merchants=Merchant.objects.filter(pk__in={t.merchant_id for t in open_tasks})
        )
    now = timezone.now()
    ticked = [t for t in open_tasks if task_fact_holds(t, facts[t.merchant_id])]
    by_merchant: dict[int, list[str]] = defaultdict(list)
    for task in ticked:
        task.status = TaskStatus.DONE
        task.completed_at = now
        task.completed_by = None
        by_merchant[task.merchant_id].append(task.title)
    MerchantTask.objects.bulk_update(ticked, ["status", "completed_at", "completed_by"])
    OnboardingEvent.objects.bulk_create(
        OnboardingEvent(
            merchant_id=merchant_id,
            kind=OnboardingEvent.Kind.FACT_VERIFIED,
            details={"tasks": titles},
        )
        for merchant_id, titles in by_merchant.items()
    )
    return len(ticked)


def task_fact_override(*, task: MerchantTask, reason: str, actor=None) -> None:
    """Check and log marking `task` done while its fact does not hold. Raises ValidationError
    without a reason. Call before saving the task as done; a task without a fact, or whose
    fact holds, needs nothing."""
    if not task.fact:
        return
    facts = facts_for(merchants=[task.merchant])[task.merchant_id]
    if task_fact_holds(task, facts):
        return
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            _(
                "“%(title)s” is checked by a fact that does not hold yet (%(now)s). "
                "Give an override reason to mark it done anyway."
            )
            % {"title": task.title, "now": facts.describe(task.fact)}
        )
    OnboardingEvent.objects.create(
        merchant_id=task.merchant_id,
        kind=OnboardingEvent.Kind.FACT_OVERRIDE,
        actor=actor,
        reason=reason,
        details={"task": task.title, "fact": task.fact, "data": facts.describe(task.fact)},
    )


@dataclass
class TimeToValue:
    started_on: dt.date | None
    first_purchase_days: int | None
    hundredth_purchase_days: int | None


def time_to_value(*, merchant: Merchant, facts: MerchantFacts) -> TimeToValue:
    """Days from the onboarding start (first checklist, else the merchant's creation) to the
    first and to the 100th card purchase, in the merchant's local dates."""
    started = merchant.onboarding_started_on or (
        timezone.localtime(merchant.created_at, merchant.tzinfo).date()
        if merchant.created_at
        else None
    )

    def days(rank: int) -> int | None:
        when = facts.purchase_dates.get(rank)
        if when is None or started is None:
            return None
        return (timezone.localtime(when, merchant.tzinfo).date() - started).days

    return TimeToValue(started, days(1), days(100))


def fact_override_error(task: MerchantTask) -> str | None:
    """Marking a fact-checked task done by hand needs an override reason while its fact does
    not hold (the fact ticks it by itself once it does): the message to show, or None.

    Forms that edit a task's status call it (`onboarding.forms.MerchantTaskForm`); one read
    of the facts per merchant per request, since a formset's tasks share their merchant."""
    if task.status != TaskStatus.DONE or not task.fact or task.fact_override_reason.strip():
        return None
    if task.merchant_id is None:
        return None
    if task.pk and MerchantTask.objects.filter(pk=task.pk, status=TaskStatus.DONE).exists():
        return None
    facts = getattr(task.merchant, "_checklist_facts", None)
    if facts is None:
        facts = facts_for(merchants=[task.merchant])[task.merchant_id]
        task.merchant._checklist_facts = facts
    if facts.holds(task.fact, task.fact_threshold):
        return None
    return _(
        "The fact that completes this task does not hold yet (%(now)s). "
        "Give a reason to mark it done anyway."
    ) % {"now": facts.describe(task.fact)}
