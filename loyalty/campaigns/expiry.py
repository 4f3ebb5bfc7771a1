"""Daily expiry: whole balances after the program's period without purchases, short-lived
gift points (only their unspent part), and lapsed certificates.

Every point that disappears is a negative `expiry` ledger entry written in the same
transaction as the cached balance, under the clients' row locks (taken in primary-key order);
nothing is ever silently zeroed. Each step is idempotent, so a re-run or a concurrent run
expires nothing twice."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from crm.models import Client
from onboarding.models import Merchant
from onboarding.money import ZERO, q

from ..ledger import LedgerBatch, lock_accounts
from ..ledger.params import ids_in
from ..models import Certificate, LedgerEntry, LedgerKind, Program
from .dates import balance_lapse_day, balance_last_lapsed_day, day_start, local_date

CHUNK = 2000
BURN_PREFIX = "burn #"
# Gifts burn at most 365 days after they are given (Campaign.burn_after_days).
MAX_GIFT_DAYS = 366


@dataclass
class ExpiryOutcome:
    clients_expired: int = 0
    points_expired: Decimal = ZERO
    gifts_burned: int = 0
    points_burned: Decimal = ZERO
    certificates_expired: int = 0


def certificates_expire(*, merchant: Merchant, moment: datetime) -> int:
    """Mark the merchant's active certificates whose validity ended by `moment` expired."""
    return Certificate.objects.filter(
        merchant=merchant, status=Certificate.Status.ACTIVE, valid_until__lte=moment
    ).update(status=Certificate.Status.EXPIRED)


def expiry_months(merchant: Merchant) -> int | None:
    """The program's points expiry period in months (None: points never expire)."""
    return (
        Program.objects.filter(merchant=merchant)
        .values_list("points_expiry_months", flat=True)
        .first()
    )


def _moment(value) -> datetime:
    """A raw timestamp column as an aware datetime (SQLite gives text or naive UTC)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, UTC) if timezone.is_naive(value) else value


def _lapse_days(merchant: Merchant, months: int):
    """`last_activity_at` → the local day its balance lapses (`balance_lapse_day`), worked
    out once per local day: a day's candidates share a few activity days."""
    days: dict[date, date] = {}

    def lapse_of(value) -> date:
        activity_day = local_date(merchant, _moment(value))
        lapse = days.get(activity_day)
        if lapse is None:
            lapse = days[activity_day] = balance_lapse_day(activity_day, months)
        return lapse

    return lapse_of


def points_expiry_candidates(*, merchant: Merchant, day: date, months: int) -> list[int]:
    """Ids of the clients holding points whose last activity lapsed by `day` under a
    `months`-month expiry, in primary-key order (`points_expire` locks them in chunks).

    `last_activity_at` (last purchase, else joining, else creation) under a partial index
    of clients holding points (`has_points`, stored: the index does not name `balance`, so
    balance updates can be HOT): a range look-up, not a scan of the client base. The range
    ends with the last activity day lapsed by `day`, so only the clients due are read and
    locked (a row lock writes the row's page); the rule is applied again under the lock, to
    what a purchase may have changed meanwhile.
    Sorted here, not by the database: the planner cannot know that positive balances are
    almost all recent (expiry keeps them so), expects a quarter of the base and would read
    the whole table in primary-key order rather than sort what the index finds."""
    cutoff = day_start(merchant, balance_last_lapsed_day(day, months) + timedelta(days=1))
    return sorted(
        Client.objects.filter(merchant=merchant, has_points=True, last_activity_at__lt=cutoff)
        .order_by()
        .values_list("pk", flat=True)
    )


def points_expire(
    *, merchant: Merchant, day: date, moment: datetime, months: int | None = -1
) -> tuple[int, Decimal]:
    """Expire the balance of clients whose last purchase (or joining, if they never bought)
    was `points_expiry_months` months before `day` or earlier (`months`: the program's
    period, read here if not given). Points credited after the lapse date (e.g. a later
    gift) are kept. Returns (clients, points)."""
    if months == -1:
        months = expiry_months(merchant)
    if not months:
        return 0, ZERO
    candidates = points_expiry_candidates(merchant=merchant, day=day, months=months)
    lapse_of = _lapse_days(merchant, months)
    clients, total = 0, ZERO
    for start in range(0, len(candidates), CHUNK):
        chunk = candidates[start : start + CHUNK]
        with transaction.atomic():
            # The balance and what it lapses from, read with the lock (one statement).
            accounts = lock_accounts(chunk, columns=("last_activity_at",))
            due = {}
            for cid, account in accounts.items():
                balance = account.balance
                if balance <= ZERO:
                    continue
                lapse_day = lapse_of(account.extra[0])
                if lapse_day <= day:
                    due[cid] = (Decimal(balance), day_start(merchant, lapse_day), lapse_day)
            if not due:
                continue
            earliest = min(lapse for _b, lapse, _d in due.values())
            recent = defaultdict(Decimal)
            for cid, points, created_at in LedgerEntry.objects.filter(
                client_id__in=ids_in(due), points__gt=0, created_at__gte=earliest
            ).values_list("client_id", "points", "created_at"):
                if created_at >= due[cid][1]:
                    recent[cid] += points
            batch = LedgerBatch(accounts)
            for cid, (balance, _lapse, lapse_day) in due.items():
                amount = q(min(balance, max(ZERO, balance - recent[cid])))
                if amount <= ZERO:
                    continue
                batch.post_plain(
                    client_id=cid,
                    kind=LedgerKind.EXPIRY,
                    points=-amount,
                    reason=f"expiry: no purchase for {months} months (lapsed {lapse_day})",
                    created_at=moment,
                )
                total += amount
                clients += 1
            batch.flush(need_ids=False)
    return clients, total


def gifts_burn(
    *, merchant: Merchant, moment: datetime, since: datetime | None = None
) -> tuple[int, Decimal]:
    """Burn the unspent part of short-lived gifts (campaign entries with `expires_at`) due by
    `moment`. Spending uses gift points first: the unspent part is the gift minus the points
    redeemed since it was given (net of redemptions refunded), never more than the balance.
    Each burn is an `expiry` entry whose reason names the gift, so a gift burns once.
    `since`: a completed run's moment, by which every gift due was burned; only gifts due
    after it are read."""
    due = LedgerEntry.objects.filter(
        merchant=merchant,
        kind=LedgerKind.CAMPAIGN,
        created_at__gte=moment - timedelta(days=MAX_GIFT_DAYS),
        points__gt=0,
        expires_at__isnull=False,
        expires_at__lte=moment,
    )
    if since is not None:
        due = due.filter(expires_at__gt=since)
    due = list(
        due.order_by("client_id", "expires_at", "pk").values_list(
            "pk", "client_id", "points", "created_at", "campaign_id"
        )
    )
    by_client = defaultdict(list)
    for row in due:
        by_client[row[1]].append(row)
    client_ids = sorted(by_client)
    burned_count, burned_total = 0, ZERO
    for start in range(0, len(client_ids), CHUNK):
        chunk = client_ids[start : start + CHUNK]
        gifts = [g for cid in chunk for g in by_client[cid]]
        since = min(g[3] for g in gifts)
        with transaction.atomic():
            accounts = lock_accounts(chunk)
            balances = {cid: account.balance for cid, account in accounts.items()}
            # Read under the locks: a concurrent run's burns are committed and visible here.
            burned = set(
                LedgerEntry.objects.filter(
                    client_id__in=ids_in(chunk),
                    kind=LedgerKind.EXPIRY,
                    reason__startswith=BURN_PREFIX,
                    created_at__gte=since,
                ).values_list("reason", flat=True)
            )
            moves = defaultdict(list)
            for cid, kind, points, created_at in LedgerEntry.objects.filter(
                client_id__in=ids_in(chunk),
                created_at__gte=since,
                kind__in=[LedgerKind.REDEMPTION, LedgerKind.REFUND],
            ).values_list("client_id", "kind", "points", "created_at"):
                if kind == LedgerKind.REDEMPTION or points > 0:
                    moves[cid].append((created_at, -points))
            batch = LedgerBatch(accounts)
            for pk, cid, points, created_at, campaign_id in gifts:
                reason = f"{BURN_PREFIX}{pk}"
                if reason in burned or cid not in balances:
                    continue
                spent = sum((amount for at, amount in moves[cid] if at >= created_at), ZERO)
                unspent = max(ZERO, Decimal(points) - max(ZERO, spent))
                amount = q(min(unspent, balances[cid]))
                if amount <= ZERO:
                    continue
                balances[cid] -= amount
                batch.post_plain(
                    client_id=cid,
                    kind=LedgerKind.EXPIRY,
                    points=-amount,
                    campaign_id=campaign_id,
                    reason=reason,
                    created_at=moment,
                )
                burned_count += 1
                burned_total += amount
            batch.flush(need_ids=False)
    return burned_count, burned_total


def expiry_run(
    *,
    merchant: Merchant,
    day: date,
    moment: datetime,
    months: int | None = -1,
    since: datetime | None = None,
) -> ExpiryOutcome:
    """All expiry for one merchant's day: gifts burn first, then balances, then certificates.

    `since`: the moment of a completed run of the same day under the same expiry settings
    (the day's mark). Balances lapse by the day, so they were expired then; only gifts and
    certificates due since are looked up."""
    outcome = ExpiryOutcome()
    outcome.gifts_burned, outcome.points_burned = gifts_burn(
        merchant=merchant, moment=moment, since=since
    )
    if since is None:
        outcome.clients_expired, outcome.points_expired = points_expire(
            merchant=merchant, day=day, moment=moment, months=months
        )
    outcome.certificates_expired = certificates_expire(merchant=merchant, moment=moment)
    return outcome


__all__ = [
    "ExpiryOutcome",
    "certificates_expire",
    "expiry_run",
    "gifts_burn",
    "points_expire",
]
