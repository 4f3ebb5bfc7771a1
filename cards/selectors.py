"""Reads for the card pages and the owner dashboard; each is scoped by the client or
merchant passed in."""

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.utils import timezone

from crm.models import Client
from loyalty.channels.api import inbox_messages
from loyalty.models import Certificate, LedgerEntry, Purchase
from loyalty.services.rules import load_rules
from onboarding.models import Merchant
from onboarding.money import ZERO

from .models import JOIN_CHANNELS, CardCounter, CardSession

PAGE_SIZE = 20
ACTIVE_CARD_DAYS = 30


@dataclass
class TierProgress:
    tier: object
    next_tier: object
    spent: Decimal
    to_next: Decimal  # spend still needed to reach next_tier
    percent: int  # 0–100 of the way from the current tier's threshold to the next


@dataclass
class CardSummary:
    client: Client
    balance: Decimal
    progress: TierProgress
    certificates: list


def tier_progress(*, client: Client, rules=None) -> TierProgress:
    """The client's tier, the next one up and how far along the spend is."""
    rules = rules or load_rules(client.merchant)
    tier = rules.current_tier(client)
    spent = client.total_spent or ZERO
    above = [t for t in rules.tiers if tier is None or t.position > tier.position]
    next_tier = None if client.tier_locked else (above[0] if above else None)
    if next_tier is None:
        return TierProgress(tier, None, spent, ZERO, 100)
    start = tier.spend_threshold if tier else ZERO
    span = next_tier.spend_threshold - start
    to_next = max(ZERO, next_tier.spend_threshold - spent)
    percent = 100 if span <= 0 else int(max(0, min(100, (spent - start) * 100 / span)))
    return TierProgress(tier, next_tier, spent, to_next, percent)


def card_summary(*, client: Client) -> CardSummary:
    now = timezone.now()
    certificates = list(
        Certificate.objects.filter(
            client=client, status=Certificate.Status.ACTIVE, valid_until__gte=now
        ).order_by("valid_until", "pk")
    )
    return CardSummary(
        client=client,
        balance=client.balance,
        progress=tier_progress(client=client),
        certificates=certificates,
    )


def purchases_page(*, client: Client, page: int):
    qs = (
        Purchase.objects.filter(client=client)
        .select_related("branch")
        .order_by("-occurred_at", "-pk")
    )
    return Paginator(qs, PAGE_SIZE).get_page(page)


def ledger_page(*, client: Client, page: int):
    qs = LedgerEntry.objects.filter(client=client).order_by("-created_at", "-pk")
    return Paginator(qs, PAGE_SIZE).get_page(page)


def inbox_page(*, client: Client, page: int):
    """The client's card inbox, newest first, a page at a time: the channels' inbox (every
    campaign message addressed to the client, whatever channel it went out on; one-time
    code records — kind "code", which do carry the client — never show)."""
    return Paginator(inbox_messages(client=client, limit=None), PAGE_SIZE).get_page(page)


def invited_count(*, client: Client) -> tuple[int, int]:
    """(friends invited, of them who bought)."""
    row = Client.objects.filter(referred_by=client).aggregate(
        invited=Count("pk"), bought=Count("pk", filter=Q(purchases_count__gt=0))
    )
    return row["invited"], row["bought"]


def card_stats(*, merchant: Merchant, start: date | None = None, end: date | None = None) -> dict:
    """For the owner dashboard: active cards (a session seen in the last 30 days), cards
    issued, card and join page views and joins by channel over [start, end] (local days)."""
    since = timezone.now() - timedelta(days=ACTIVE_CARD_DAYS)
    active = (
        CardSession.objects.filter(
            merchant=merchant, last_seen_at__gte=since, ended_at__isnull=True
        )
        .values("client_id")
        .distinct()
        .count()
    )
    counters = CardCounter.objects.filter(merchant=merchant)
    if start:
        counters = counters.filter(day__gte=start)
    if end:
        counters = counters.filter(day__lte=end)
    totals = {
        (row["event"], row["channel"]): row["n"]
        for row in counters.values("event", "channel").annotate(n=Sum("count"))
    }
    views = sum(n for (event, _ch), n in totals.items() if event == CardCounter.Event.VIEW)
    join_views = sum(
        n for (event, _ch), n in totals.items() if event == CardCounter.Event.JOIN_PAGE
    )
    joins = [
        {"channel": key, "label": str(label), "joins": totals.get((CardCounter.Event.JOIN, key), 0)}
        for key, label in JOIN_CHANNELS.items()
    ]
    return {
        "active_cards": active,
        "cards_issued": Client.objects.filter(
            merchant=merchant, card_profile__isnull=False
        ).count(),
        "card_views": views,
        "join_page_views": join_views,
        "joins": joins,
        "joins_total": sum(j["joins"] for j in joins),
    }
