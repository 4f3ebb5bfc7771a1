"""Maintained aggregates for large merchants: the daily rollup and the nightly snapshot.

`reports_refresh` brings a merchant's rollup up to yesterday (local) and recomputes the
client-level figures of the default period; the dashboard then reads the rollup plus the
live purchases of today. Run it nightly (`manage.py refresh_reports`, or the Celery task
`reports.tasks.refresh_reports`).

With a snapshot in place the refresh is incremental: it rewrites only the days that can have
changed since the last one — the new days, the days of purchases recorded since with an
earlier time (back-dated imports, late POS documents), the days of purchases refunded
since — found from the purchase and refund ids past the snapshot's marks; the figures of
clients whose channel changed move to their new channel keys, and the members rollup is
carried from the new and changed clients (`reports.members`). A full rebuild (`full=True`,
`refresh_reports --full`, and always when there is no snapshot) recomputes every day; it also
picks up what no mark records: deleted purchases.

Over 420 lines: the refresh's steps in their one order in `reports_refresh`, each step's work in
its own module (members, summaries, buyer totals, partner figures, RFM).
"""

import time as clock
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import Max
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.models import Client
from loyalty.models import Purchase, Refund
from onboarding.models import Merchant

from . import aggregates as agg
from . import buyer_totals, client_figures, members, partner_figures, rfm, rfm_history, summaries
from .aggregates import Period
from .lift import kept_lift, lift, lift_periods
from .metrics import ROLLUP_MIN_PURCHASES, default_period
from .models import (
    ClientChange,
    ClientPurchases,
    DailyMembers,
    DailySales,
    PartnerClient,
    PartnerFigures,
    ReportSnapshot,
    RfmScore,
)
from .pointb import ClientLevel, load, to_json

SALES_KEYS = ("day", "branch_id", "channel", "source_detail")
# An id is taken when a row is inserted but the row is seen only after its commit: the marks
# stop at rows recorded this long before the refresh, so a transaction still open during a
# refresh is looked at again by the next one (rewriting a day twice is harmless).
MARK_WINDOW = timedelta(minutes=10)
# More scattered days than this are rewritten by a full rebuild instead.
INCREMENTAL_MAX_RUNS = 200
# PostgreSQL's work_mem for the refresh's own transaction (see `reports_refresh`).
REFRESH_WORK_MEM = getattr(settings, "REPORTS_REFRESH_WORK_MEM", "256MB")
# ... and its random_page_cost: the night's statements look up a few thousand rows of tables of
# hundreds of thousands by key (`client_id IN (the changed clients)`), which at the default 4
# PostgreSQL reads whole instead (a hash join over a sequential scan, 2–3× slower at 1 M).
REFRESH_RANDOM_PAGE_COST = getattr(settings, "REPORTS_REFRESH_RANDOM_PAGE_COST", "1.1")


def _sales_objects(merchant: Merchant, rows):
    return (DailySales(merchant=merchant, **row) for row in rows if row.get("day"))


def rollup_rebuild(*, merchant: Merchant, through: date, clients_mark: int) -> dict:
    """Replace the merchant's sales rollup with every day ≤ `through` and count every member
    again (`members.members_rebuild`). Returns the members' state."""
    sales = agg.sales_live(merchant, Period(start=None, end=through), by=SALES_KEYS)
    with transaction.atomic():
        DailySales.objects.filter(merchant=merchant).delete()
        DailySales.objects.bulk_create(_sales_objects(merchant, sales), batch_size=5000)
        return members.members_rebuild(merchant=merchant, mark=clients_mark)


def changed_days(*, merchant: Merchant, snapshot: ReportSnapshot) -> set[date]:
    """Days up to the snapshot's `rollup_through` whose purchases changed after its marks:
    purchases recorded since with an earlier time, and purchases refunded since."""
    tz = merchant.tzinfo
    rolled_end = datetime.combine(snapshot.rollup_through + timedelta(days=1), time.min, tzinfo=tz)
    in_rollup = Purchase.objects.filter(merchant=merchant, occurred_at__lt=rolled_end).order_by()
    late = in_rollup.filter(pk__gt=snapshot.purchases_seen_id)
    refunded = in_rollup.filter(
        pk__in=Refund.objects.filter(merchant=merchant, pk__gt=snapshot.refunds_seen_id).values(
            "purchase_id"
        )
    )
    days = set()
    for qs in (late, refunded):
        days.update(
            qs.annotate(local_day=TruncDate("occurred_at", tzinfo=tz))
            .values_list("local_day", flat=True)
            .distinct()
        )
    return days


def rollup_update(*, merchant: Merchant, days) -> int:
    """Rewrite the sales rollup of the given days only. Returns rows written."""
    days = sorted(set(days))
    if not days:
        return 0
    sales = agg.sales_live_on_days(merchant, days, by=SALES_KEYS)
    with transaction.atomic():
        for first, last in agg.day_ranges(days):
            DailySales.objects.filter(merchant=merchant, day__gte=first, day__lte=last).delete()
        DailySales.objects.bulk_create(_sales_objects(merchant, sales), batch_size=5000)
    return len(sales)


def _marks(merchant: Merchant) -> dict:
    """The largest purchase and refund ids recorded before the window (see MARK_WINDOW)."""
    before = timezone.now() - MARK_WINDOW

    def mark(model) -> int:
        rows = model.objects.filter(merchant=merchant, created_at__lt=before)
        return rows.aggregate(n=Max("pk"))["n"] or 0

    return {"purchases_seen_id": mark(Purchase), "refunds_seen_id": mark(Refund)}


def _clients_mark(merchant: Merchant) -> int:
    """The largest client id recorded before the window (the members' mark)."""
    before = timezone.now() - MARK_WINDOW
    rows = Client.objects.filter(merchant=merchant, created_at__lt=before)
    return rows.aggregate(n=Max("pk"))["n"] or 0


def _known_history(previous: dict | None) -> list[dict]:
    """The RFM history of a stored snapshot's JSON, as `rfm_history.monthly_history` returns it."""
    return [
        {
            "month": date.fromisoformat(h["month"]),
            "as_of": date.fromisoformat(h["as_of"]),
            "segments": dict(h["segments"]),
            "buyers": h["buyers"],
        }
        for h in (previous or {}).get("rfm_history") or []
    ]


def snapshot_clients(
    *,
    merchant: Merchant,
    today: date,
    previous: dict | None,
    unchanged_before: date | None,
    rfm_state: dict | None = None,
    changed_after: tuple[int, int] | None = None,
    current_history: dict | None = None,
    summaries_state: dict | None = None,
    buyers_kept: dict | None = None,
    contacts_tiers=None,
) -> tuple[ClientLevel, dict]:
    """The client-level figures of the default period (the same as `metrics.client_level`),
    with the RFM scores stored for `today` and the RFM history of months before
    `unchanged_before` taken from `previous` (a snapshot's JSON). Buyers, regulars, buyers per
    source and the RFM history of the other months are read from the buyers'
    summaries, which the caller has brought up to date. The stored scores are carried from
    `rfm_state` with the marks `changed_after` when given (`rfm.scores_refresh`), and the RFM
    history's entry as of `today` is `current_history` when given; the other months to compute
    are carried back from `summaries_state` (the summaries' scores as of `today`) when given,
    buyers from `buyers_kept` (`buyer_totals.keep`), contacts and tiers from `contacts_tiers`
    when given (`client_figures.contacts_and_tiers_started`). Returns (figures, seconds per part
    — with "rfm_store_mode", "rfm_state" and "buyers_state")."""
    period = default_period(merchant, today=today)
    took, out = {}, {}

    def part(name, fn):
        started = clock.monotonic()
        value = fn()
        took[name] = round(clock.monotonic() - started, 3)
        return value

    contacts, out["tiers"], no_purchase = part(
        "contacts_tiers", contacts_tiers or (lambda: client_figures.contacts_and_tiers(merchant))
    )
    out.update(contacts)
    totals, took["buyers_state"] = part(
        "buyers", lambda: buyer_totals.refresh(merchant, period, kept=buyers_kept)
    )
    out.update(buyer_totals.buyer_figures(totals))
    out.update(part("referrals", lambda: client_figures.referral_stats(merchant, period)))
    took["rfm_state"], took["rfm_store_mode"] = part(
        "rfm_store",
        lambda: rfm.scores_refresh(
            merchant=merchant, today=today, state=rfm_state, changed_after=changed_after
        ),
    )
    out["rfm"] = part(
        "rfm",
        lambda: rfm.segment_summary(
            merchant=merchant,
            today=today,
            stored=True,
            totals=took["rfm_state"].get("segments"),
            no_purchase=no_purchase,
        ),
    )
    known = _known_history(previous)
    out["rfm_history"] = part(
        "rfm_history",
        lambda: rfm_history.monthly_history(
            merchant=merchant,
            start=period.start,
            end=period.end,
            known=known if previous is not None else [],
            unchanged_before=unchanged_before if previous is not None else None,
            from_summaries=True,
            current=current_history,
            carried_from=summaries_state,
        ),
    )
    out["source_buyers"] = part(
        "source_buyers",
        lambda: client_figures.source_buyers(
            merchant,
            period,
            through=today - timedelta(days=1),
            bought=buyer_totals.bought_by_source(totals),
        ),
    )
    return load(ClientLevel, out), took


def reports_refresh(
    *, merchant: Merchant, today: date | None = None, full: bool = False
) -> ReportSnapshot:
    """Bring the rollup up to yesterday and recompute the snapshot of client-level figures:
    only the changed days when a snapshot exists (see the module docstring), every day with
    `full` or without one."""
    started = clock.monotonic()
    today = today or merchant.local_today()
    through = today - timedelta(days=1)
    previous = ReportSnapshot.objects.filter(merchant=merchant).first()
    incremental = (
        not full
        and previous is not None
        and previous.rollup_through is not None
        and previous.rollup_through <= through
        and previous.purchases_seen_id > 0
    )
    marks, clients_mark = _marks(merchant), _clients_mark(merchant)
    timings: dict = {}
    unchanged_before = None
    changed_or_new = None  # the days the incremental update rewrote
    contacts_tiers = client_figures.contacts_and_tiers_started(merchant)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            # the client-level figures rank every buyer (window sorts over ~all of them): in
            # memory for this transaction, not spilled to disk in the default 4 MB chunks
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('work_mem', %s, true), "
                    "set_config('random_page_cost', %s, true)",
                    [REFRESH_WORK_MEM, REFRESH_RANDOM_PAGE_COST],
                )
        members.lock_changes(merchant)
        # before the members' refresh deletes the change rows it reads too
        timings.update(
            partner_figures.partners_refresh(
                merchant=merchant, full=not incremental, marks=marks, clients_mark=clients_mark
            )
        )
        if incremental:
            members_state, moved = members.members_refresh(
                merchant=merchant, state=previous.members_state, mark=clients_mark
            )
            timings["clients_changed"] = len(moved)
            changed = changed_days(merchant=merchant, snapshot=previous)
            new_days = {
                previous.rollup_through + timedelta(days=n)
                for n in range(1, (through - previous.rollup_through).days + 1)
            }
            # the changed clients' purchases move to their channel keys now on the other days
            changed |= members.sales_moved(
                merchant=merchant,
                moved=moved,
                through=previous.rollup_through,
                rewritten=changed | new_days,
                by=SALES_KEYS,
            )
            days = changed | new_days
            if len(agg.day_ranges(days)) > INCREMENTAL_MAX_RUNS:
                incremental = False
            else:
                rollup_update(merchant=merchant, days=days)
                changed_or_new = days
                timings["days"] = len(days)
                # Purchases before the first changed day are as the last refresh saw them.
                unchanged_before = min(changed | {previous.rollup_through + timedelta(days=1)})
        if not incremental:
            members_state = rollup_rebuild(
                merchant=merchant, through=through, clients_mark=clients_mark
            )
        timings["rollup"] = round(clock.monotonic() - started, 3)
        clients_started = clock.monotonic()
        kept = (previous.rfm_state or {}) if incremental else {}
        carried = incremental and previous.rfm_as_of is not None
        changed_after = (previous.purchases_seen_id, previous.refunds_seen_id) if carried else None
        summaries_why = "full refresh"
        buyers_kept, timings["buyers_mode"] = None, "full refresh"
        if incremental and previous.client_purchases_built:
            if carried:
                summaries_why = rfm_history.summary_scores_keep(
                    merchant=merchant,
                    today=today,
                    state=kept.get("summaries"),
                    changed_after=changed_after,
                )
            buyers_kept = buyer_totals.keep(  # before the changed summaries are written
                merchant=merchant,
                period=default_period(merchant, today=today),
                state=kept.get("buyers"),
                moved=list(moved),
                changed=rfm_history.SUMMARIES_CHANGED if summaries_why is None else None,
                timings=timings,
            )
            members.summaries_keys_update(merchant=merchant, client_ids=list(moved))
            timings["summaries"] = summaries.summaries_update(
                merchant=merchant,
                purchases_after=previous.purchases_seen_id,
                refunds_after=previous.refunds_seen_id,
                # the very clients whose old figures were kept (none committed in between)
                changed=rfm_history.SUMMARIES_CHANGED if summaries_why is None else None,
                folded_through=kept.get("summaries_through"),
            )
        else:
            timings["summaries"] = summaries.summaries_rebuild(merchant=merchant)
        summaries_through = summaries.folded_through()
        # the summaries' scores as of today: the RFM history's current month (incremental)
        scored_at = clock.monotonic()
        summaries_state, timings["summary_scores_mode"] = rfm_history.summary_scores_refresh(
            merchant=merchant, today=today, state=kept.get("summaries"), why=summaries_why
        )
        current_history = (
            rfm_history.summary_segment_counts(
                merchant=merchant, today=today, state=summaries_state
            )
            if incremental
            else None
        )
        timings["summary_scores"] = round(clock.monotonic() - scored_at, 3)
        previous_clients = previous.clients if incremental and previous.clients else None
        clients, parts = snapshot_clients(
            merchant=merchant,
            today=today,
            previous=previous_clients,
            unchanged_before=unchanged_before,
            rfm_state=kept.get("scores"),
            changed_after=changed_after,
            current_history=current_history,
            summaries_state=summaries_state if incremental else None,
            buyers_kept=buyers_kept,
            contacts_tiers=contacts_tiers,
        )
        rfm_state = {
            "scores": parts.pop("rfm_state"),
            "summaries": summaries_state,
            "summaries_through": summaries_through,
        }
        rfm_state["buyers"] = parts.pop("buyers_state")
        timings["rfm_store_mode"] = parts.pop("rfm_store_mode")
        timings["clients"] = round(clock.monotonic() - clients_started, 3)
        timings["clients_parts"] = parts
        timings["mode"] = "incremental" if incremental else "full"
        purchases = Purchase.objects.filter(merchant=merchant)
        mark = marks["purchases_seen_id"]
        if incremental:
            # Counted on from the last mark by the primary key: no scan of every purchase
            # (a deleted purchase leaves the count until the next full rebuild).
            to_mark = previous.purchases_to_mark + (
                purchases.filter(pk__gt=previous.purchases_seen_id, pk__lte=mark).count()
            )
        else:
            to_mark = purchases.filter(pk__lte=mark).count()
        purchases_total = to_mark + purchases.filter(pk__gt=mark).count()
        lift_started = clock.monotonic()
        lift_value = None
        if changed_or_new is not None:
            lift_value = kept_lift(
                previous.lift,
                zone=merchant.time_zone,
                periods=lift_periods(merchant, today),
                changed_days=changed_or_new,
            )
            timings["lift_kept"] = lift_value is not None
        if lift_value is None:
            lift_value = to_json(lift(merchant=merchant, today=today, live=True))
        timings["lift"] = round(clock.monotonic() - lift_started, 3)
        snapshot, _created = ReportSnapshot.objects.update_or_create(
            merchant=merchant,
            defaults={
                "rollup_through": through,
                "purchases_total": purchases_total,
                "clients": to_json(clients),
                "refreshed_at": timezone.now(),
                "took_seconds": round(clock.monotonic() - started, 3),
                "rfm_as_of": today,
                "timings": timings,
                "lift": {"day": today.isoformat(), "zone": merchant.time_zone, "value": lift_value},
                "purchases_to_mark": to_mark,
                "client_purchases_built": True,
                "rfm_state": rfm_state,
                "members_state": members_state,
                **marks,
            },
        )
    return snapshot


def reports_drop(*, merchant: Merchant) -> None:
    """Forget the rollup, snapshot and stored RFM scores: everything goes back to live."""
    RfmScore.objects.filter(merchant=merchant).delete()
    ClientPurchases.objects.filter(merchant=merchant).delete()
    DailySales.objects.filter(merchant=merchant).delete()
    DailyMembers.objects.filter(merchant=merchant).delete()
    ReportSnapshot.objects.filter(merchant=merchant).delete()
    PartnerClient.objects.filter(merchant=merchant).delete()
    PartnerFigures.objects.filter(merchant=merchant).delete()
    ClientChange.objects.filter(merchant_id=merchant.pk).delete()


def refresh_due_merchants() -> list[Merchant]:
    """Merchants that need the rollup: large ones, and any that already has a snapshot."""
    from django.db.models import Count

    large = (
        Purchase.objects.order_by()
        .values("merchant_id")
        .annotate(n=Count("id"))
        .filter(n__gte=ROLLUP_MIN_PURCHASES)
        .values("merchant_id")
    )
    return list(
        Merchant.objects.filter(
            models.Q(pk__in=large) | models.Q(report_snapshot__isnull=False)
        ).order_by("pk")
    )
