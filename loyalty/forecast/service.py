"""`forecast_run`: what a draft program would have cost and given on the merchant's own
purchases of the last N months, beside the merchant's previous direct discount.

The history is read in one streamed query (`values_list`, no model instances, no per-row
queries) and replayed in memory (`replay.Replay`) by every compared program at once. A
merchant without history gets a synthetic one sized from Point A (buying clients, average
check, purchases per client a year), generated deterministically."""

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import CharField, F
from django.db.models.functions import Cast
from django.utils.translation import gettext as _

from crm.models import Client
from onboarding.models import Merchant
from onboarding.money import HUNDRED, ZERO, q

from ..campaigns.dates import add_months
from ..models import LedgerKind, PaymentType, Purchase
from ..services.referrals import chain_from_locked
from ..services.rules import Rules, load_rules
from .drafts import draft_rules
from .gifts import campaigns_for_forecast
from .groups import History, family_numbers, replay_history
from .models import ProgramDraft
from .replay import CERTIFICATES, EXPIRED, ISSUED, REDEEMED, REVENUE, Outcome, Replay

STREAM_CHUNK = 20000
SYNTHETIC_SEED = 17
MICROSECOND = timedelta(microseconds=1)


class ForecastError(ValueError):
    """The forecast cannot run (no history and no Point A figures, a bad draft)."""


@dataclass
class Candidate:
    """A program to replay: a draft, or the current program (draft None)."""

    name: str
    rules: Rules
    redeem_share: int
    draft: ProgramDraft | None = None


def candidates_for(*, merchant: Merchant, drafts) -> list[Candidate]:
    """The drafts to compare, or the current program when none is named."""
    if not drafts:
        return [Candidate(_("Current program"), load_rules(merchant), 50)]
    return [
        Candidate(
            d.name, draft_rules(merchant=merchant, settings=d.settings), d.redeem_share_percent, d
        )
        for d in drafts
    ]


def forecast_window(merchant: Merchant, months: int, today: date | None = None):
    """(first local day, last local day) of the `months` months that end yesterday."""
    today = today or merchant.local_today()
    return add_months(today, -months), today - timedelta(days=1)


def _history_rows(merchant: Merchant, start: date, end: date):
    """(client id, local day, amount, promo part, payment type) of every check in the period,
    in time order: one query streamed through a server-side cursor where the database has
    one, with no model instances nor Django's per-value converters on the way. The rows come
    in time order, so a row's local day is found by comparing its time with the next local
    midnight (`_day_starts`), not by converting every time; equal amounts share one Decimal."""
    zone = merchant.tzinfo
    since = datetime.combine(start, time.min, tzinfo=zone)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone)
    starts = _day_starts(zone, start, end)
    sqlite = connection.vendor == "sqlite"
    if sqlite and starts is not None:
        # SQLite keeps the UTC time as text ("YYYY-MM-DD HH:MM:SS[.ffffff][+00:00]") and
        # compares it as text, so a day's start in the same text is compared the same way.
        at_column = Cast("occurred_at", CharField())
        starts = [(str(moment.replace(tzinfo=None)), day) for moment, day in starts]
    else:
        at_column = F("occurred_at")
    query = (
        Purchase.objects.filter(merchant=merchant, occurred_at__gte=since, occurred_at__lt=until)
        .order_by("occurred_at", "pk")
        .annotate(
            t=at_column, a=Cast("amount", CharField()), x=Cast("excluded_amount", CharField())
        )
        .values_list("client_id", "t", "a", "x", "payment_type")
    )
    sql, params = query.query.sql_with_params()
    numbers: dict = {}
    with transaction.atomic(), connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        if starts is None:  # a day that does not follow the one before: convert each time
            while rows := cursor.fetchmany(STREAM_CHUNK):
                for cid, at, amount, excluded, payment in rows:
                    if sqlite:
                        if isinstance(at, str):
                            at = datetime.fromisoformat(at)
                        at = at.replace(tzinfo=UTC)
                    yield (
                        cid,
                        at.astimezone(zone).date(),
                        Decimal(amount),
                        Decimal(excluded),
                        payment,
                    )
            return
        following = iter(starts[1:])
        day = starts[0][1]
        next_start, next_day = next(following, (None, None))
        while rows := cursor.fetchmany(STREAM_CHUNK):
            for cid, at, amount, excluded, payment in rows:
                while next_start is not None and at >= next_start:
                    day = next_day
                    next_start, next_day = next(following, (None, None))
                a = numbers.get(amount)
                if a is None:
                    a = numbers[amount] = Decimal(amount)
                x = numbers.get(excluded)
                if x is None:
                    x = numbers[excluded] = Decimal(excluded)
                yield cid, day, a, x, payment


def _day_starts(zone, start: date, end: date) -> list | None:
    """(UTC instant the local day begins, the day) for each day from `start` to `end`; None
    if the zone's local date does not simply follow time there (a clock set back across
    midnight), so each time must be converted."""
    starts = []
    day = start
    while day <= end:
        midnight = datetime.combine(day, time.min, tzinfo=zone)
        moment = midnight.astimezone(UTC)
        if (
            midnight.replace(fold=1).astimezone(UTC) != moment  # midnight came twice
            or moment.astimezone(zone).date() != day
            or (starts and (moment - MICROSECOND).astimezone(zone).date() != starts[-1][1])
        ):
            return None
        starts.append((moment, day))
        day += timedelta(days=1)
    return starts


def _has_history(merchant: Merchant, start: date, end: date) -> bool:
    zone = merchant.tzinfo
    return Purchase.objects.filter(
        merchant=merchant,
        occurred_at__gte=datetime.combine(start, time.min, tzinfo=zone),
        occurred_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    ).exists()


def synthetic_rows(merchant: Merchant, start: date, end: date) -> list:
    """A history sized from Point A: each buying client buys their yearly frequency pro rata,
    on uniformly spread days, checks spread around the average check (mean kept)."""
    clients = merchant.point_a_clients or 0
    check = merchant.point_a_average_check or ZERO
    visits = merchant.point_a_visits_per_year or ZERO
    if not clients or check <= 0 or visits <= 0:
        raise ForecastError(
            _(
                "No purchase history in the period and no Point A figures (buying clients, "
                "average check, purchases a year): fill them in the merchant's profile."
            )
        )
    rng = random.Random(SYNTHETIC_SEED)
    span = (end - start).days + 1
    per_client = float(visits) * span / 365.0
    rows = []
    for cid in range(1, clients + 1):
        count = int(per_client) + (1 if rng.random() < per_client % 1 else 0)
        for _n in range(count):
            day = start + timedelta(days=rng.randrange(span))
            amount = q(check * Decimal(str(round(rng.lognormvariate(-0.125, 0.5), 4))))
            rows.append((cid, day, amount, ZERO, PaymentType.CARD))
    rows.sort(key=lambda r: r[1])
    return rows


def _members(merchant: Merchant) -> tuple[dict, dict, list]:
    """(referral chains, birthdays, client ids) of the merchant's clients, in one query."""
    nodes, birthdays = {}, {}
    for cid, parent, birthday in Client.objects.filter(merchant=merchant).values_list(
        "pk", "referred_by_id", "birthday"
    ):
        nodes[cid] = _Node(parent)
        if birthday is not None:
            birthdays[cid] = birthday
    chains = {}
    for cid, node in nodes.items():
        if node.referred_by_id is not None:
            chain = chain_from_locked(cid, nodes)
            if chain is None:  # an ancestor outside the merchant: cut there
                chain = _partial_chain(cid, nodes)
            if chain:
                chains[cid] = chain
    return chains, birthdays, list(nodes)


class _Node:
    __slots__ = ("referred_by_id",)

    def __init__(self, parent):
        self.referred_by_id = parent


def _partial_chain(cid, nodes) -> list:
    chain, seen, node = [], {cid}, nodes[cid]
    while node.referred_by_id in nodes and node.referred_by_id not in seen and len(chain) < 3:
        chain.append(node.referred_by_id)
        seen.add(node.referred_by_id)
        node = nodes[node.referred_by_id]
    return chain


def forecast_run(
    *, merchant: Merchant, drafts=(), months: int = 12, today: date | None = None
) -> dict:
    """Replay the last `months` months through each draft (the current program when none)
    and the previous direct discount; return plain figures (see docs/forecast.md)."""
    if not 1 <= int(months) <= 36:
        raise ForecastError(_("The period must be 1 to 36 months."))
    start, end = forecast_window(merchant, int(months), today)
    candidates = candidates_for(merchant=merchant, drafts=list(drafts))
    campaigns, skipped = campaigns_for_forecast(merchant)
    if _has_history(merchant, start, end):
        source, rows = "history", _history_rows(merchant, start, end)
        chains, birthdays, client_ids = _members(merchant)
        families = family_numbers(client_ids, chains)
    else:  # synthetic clients are numbered 1, 2, … already
        source, rows = "point_a", synthetic_rows(merchant, start, end)
        chains, birthdays, families = {}, {}, {}

    def make_replays():
        return [
            Replay(
                rules=c.rules,
                redeem_share=c.redeem_share,
                chains=chains,
                birthdays=birthdays,
                campaigns=campaigns,
                start=start,
                end=end,
            )
            for c in candidates
        ]

    outcomes = replay_history(History(rows, families), make_replays)
    first = outcomes[0]
    return {
        "merchant": merchant.slug,
        "merchant_name": merchant.name,
        "currency": merchant.currency,
        "months": int(months),
        "start": start.isoformat(),
        "end": end.isoformat(),
        "source": source,
        "checks": first.checks,
        "card_checks": first.card_checks,
        "revenue": q(first.revenue),
        "card_revenue": q(first.card_revenue),
        "campaigns_not_forecast": [c.name for c in skipped],
        "programs": [_figures(c, o, start, end) for c, o in zip(candidates, outcomes, strict=True)],
        "direct_discount": _direct_discount(merchant, first, start, end),
    }


def _month_keys(start: date, end: date) -> list[tuple[int, int]]:
    keys, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        keys.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return keys


def _figures(candidate: Candidate, replay: Outcome, start: date, end: date) -> dict:
    liability, months = ZERO, []
    totals = [ZERO] * 5
    for key in _month_keys(start, end):
        bucket = replay.months.get(key, [ZERO] * 5)
        liability += bucket[ISSUED] - bucket[REDEEMED] - bucket[EXPIRED]
        totals = [a + b for a, b in zip(totals, bucket, strict=True)]
        months.append(
            {
                "month": f"{key[0]:04d}-{key[1]:02d}",
                "issued": q(bucket[ISSUED]),
                "redeemed": q(bucket[REDEEMED]),
                "expired": q(bucket[EXPIRED]),
                "certificates": q(bucket[CERTIFICATES]),
                "card_revenue": q(bucket[REVENUE]),
                "liability": q(liability),
            }
        )
    cost = totals[REDEEMED] + totals[CERTIFICATES]
    revenue = replay.card_revenue
    tiers = {t.pk: t for t in candidate.rules.tiers}
    counts = replay.tier_members
    members = replay.members
    return {
        "name": candidate.name,
        "draft": candidate.draft.pk if candidate.draft else None,
        "redeem_share_percent": candidate.redeem_share,
        "members": members,
        "checks_paid_with_points": replay.paying_checks,
        "points_issued": q(totals[ISSUED]),
        "issued_by_kind": {
            kind: q(replay.by_kind.get(kind, ZERO))
            for kind in (
                LedgerKind.ACCRUAL,
                LedgerKind.WELCOME,
                LedgerKind.REFERRAL,
                LedgerKind.REFERRAL_BONUS,
                LedgerKind.CAMPAIGN,
            )
        },
        "points_redeemed": q(totals[REDEEMED]),
        "points_expired": q(totals[EXPIRED]),
        "certificates_redeemed": q(totals[CERTIFICATES]),
        "liability_end": q(liability),
        "cost": q(cost),
        "actual_discount_percent": q(cost * HUNDRED / revenue) if revenue else ZERO,
        "referral_by_level": {
            str(level): q(replay.by_level.get(level, ZERO)) for level in (0, 1, 2, 3)
        },
        "certificates": [
            {
                "campaign": t.name,
                "kind": t.kind,
                "reward_form": t.reward_form,
                "issued": t.issued,
                "face_value": q(t.face_value),
                "redeemed": q(t.redeemed),
            }
            for t in replay.tallies.values()
        ],
        "tiers": [
            {
                "name": tier.name,
                "clients": counts.get(pk, 0),
                "share_percent": q(Decimal(counts.get(pk, 0)) * HUNDRED / members)
                if members
                else ZERO,
            }
            for pk, tier in tiers.items()
        ],
        "months_detail": months,
    }


def _direct_discount(merchant: Merchant, replay: Outcome, start: date, end: date) -> dict:
    """The previous direct discount on the same card checks (the saving metric's rule:
    rate × card revenue)."""
    rate = merchant.previous_discount_percent or ZERO
    cost = q(replay.card_revenue * rate / HUNDRED)
    return {
        "discount_percent": q(rate),
        "cost": cost,
        "actual_discount_percent": q(rate),
    }


def forecast_context(fc: dict) -> dict:
    """The forecast arranged for its page: dates as dates, months side by side."""
    rate = Decimal(fc["direct_discount"]["discount_percent"])
    view = dict(fc)
    view["start_date"] = date.fromisoformat(fc["start"])
    view["end_date"] = date.fromisoformat(fc["end"])
    for program in fc["programs"]:
        levels = program["referral_by_level"]
        program["referral_total"] = q(sum((Decimal(v) for v in levels.values()), ZERO))
    view["month_rows"] = (
        [
            {
                "month": row["month"],
                "programs": [p["months_detail"][n] for p in fc["programs"]],
                "direct": q(Decimal(row["card_revenue"]) * rate / HUNDRED),
            }
            for n, row in enumerate(fc["programs"][0]["months_detail"])
        ]
        if fc["programs"]
        else []
    )
    return view


def forecast_html(fc: dict, request=None) -> str:
    """A self-contained page (inline CSS) of a forecast, for the command and downloads."""
    from django.template.loader import render_to_string

    return render_to_string("loyalty/forecast.html", {"fc": forecast_context(fc)}, request=request)
