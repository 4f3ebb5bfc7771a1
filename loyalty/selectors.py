"""Reads for the cashier page, the admin client page and the POS adapters. Set-based,
scoped by the merchant passed in (callers check the user may act for it)."""

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q, QuerySet

from crm.models import Client
from crm.phones import InvalidPhone, normalize_phone
from loyalty.models import Certificate, LedgerEntry, Purchase, Refund
from onboarding.models import Merchant
from onboarding.money import ZERO

from .services.certificates import certificates_active
from .services.rules import Limits, Rules, load_rules, redemption_limits


@dataclass
class ClientMatch:
    client: Client | None
    by_phone: bool
    phone: str | None  # the normalised phone, when the query was one


def client_find(*, merchant: Merchant, query: str) -> ClientMatch:
    """Find a client by phone in any spelling (merchant's country as the region) or by card
    code. `by_phone` says the client was identified by phone number."""
    text = (query or "").strip()
    if not text:
        return ClientMatch(None, False, None)
    # the card index holds only the clients with a card: said here, a prepared plan uses it too
    card = Client.objects.filter(merchant=merchant, card_code=text).exclude(card_code="").first()
    if card is not None:
        return ClientMatch(card, False, None)
    try:
        phone = normalize_phone(text, merchant.country)
    except InvalidPhone:
        return ClientMatch(None, False, None)
    client = Client.objects.filter(merchant=merchant, phone=phone).select_related("tier").first()
    return ClientMatch(client, True, phone)


@dataclass
class ClientCard:
    """What the cashier sees about a client before a purchase."""

    client: Client
    tier: object
    balance: Decimal
    cashback_percent: Decimal
    max_redemption_percent: Decimal
    certificates: list


def client_card(*, merchant: Merchant, client: Client, rules: Rules | None = None) -> ClientCard:
    rules = rules or load_rules(merchant)
    tier = rules.current_tier(client)
    return ClientCard(
        client=client,
        tier=tier,
        balance=client.balance,
        cashback_percent=tier.cashback_percent if tier else ZERO,
        max_redemption_percent=tier.max_redemption_percent if tier else ZERO,
        certificates=list(certificates_active(client=client)),
    )


def purchase_quote(
    *,
    merchant: Merchant,
    client: Client,
    amount,
    excluded_amount=0,
    payment_type: str,
    rules: Rules | None = None,
) -> Limits:
    """The caps for a check this client is about to pay (read-only; the service re-checks)."""
    rules = rules or load_rules(merchant)
    return redemption_limits(
        rules=rules,
        tier=rules.current_tier(client),
        amount=amount,
        excluded_amount=excluded_amount,
        payment_type=payment_type,
        balance=client.balance,
    )


def purchases_recent(
    *, merchant: Merchant, client: Client | None = None, limit: int = 50
) -> QuerySet:
    """The latest purchases (with client, cashier, branch and refunds) for the purchase list."""
    qs = Purchase.objects.filter(merchant=merchant)
    if client is not None:
        qs = qs.filter(client=client)
    return (
        qs.select_related("client", "cashier", "branch")
        .prefetch_related("refunds")
        .order_by("-occurred_at", "-pk")[:limit]
    )


def referral_chain_up(*, client: Client, depth: int = 3) -> list[Client]:
    """The client's referrers, direct first (stops at a repeat)."""
    chain, seen, node = [], {client.pk}, client
    ids = (
        Client.objects.filter(pk=client.pk)
        .values_list(
            "referred_by_id",
            "referred_by__referred_by_id",
            "referred_by__referred_by__referred_by_id",
        )
        .first()
        or ()
    )
    ids = [i for i in ids[:depth]]
    found = Client.objects.in_bulk([i for i in ids if i])
    for ancestor_id in ids:
        if ancestor_id is None or ancestor_id in seen:
            break
        node = found.get(ancestor_id)
        if node is None:
            break
        chain.append(node)
        seen.add(ancestor_id)
    return chain


def referral_tree_down(
    *, client: Client, depth: int = 3, limit: int = 50
) -> list[tuple[int, list]]:
    """Referred clients by level (1 = invited directly), at most `limit` shown per level,
    with each level's total count: [(count, [clients…]), …]."""
    levels, parents = [], [client.pk]
    seen = {client.pk}
    for _level in range(depth):
        if not parents:
            break
        qs = Client.objects.filter(referred_by_id__in=parents).exclude(pk__in=seen)
        ids = list(qs.values_list("pk", flat=True))
        if not ids:
            break
        shown = list(Client.objects.filter(pk__in=ids[:limit]).order_by("pk"))
        levels.append((len(ids), shown))
        seen.update(ids)
        parents = ids
    return levels


def ledger_for_client(*, client: Client, limit: int = 100) -> QuerySet:
    return (
        LedgerEntry.objects.filter(client=client)
        .select_related("purchase", "created_by")
        .order_by("-created_at", "-pk")[:limit]
    )


def certificates_for_client(*, client: Client) -> QuerySet:
    return (
        Certificate.objects.filter(client=client).select_related("campaign").order_by("-issued_at")
    )


def refunds_for_purchase(*, purchase: Purchase) -> QuerySet:
    return Refund.objects.filter(purchase=purchase).order_by("occurred_at")


def merchant_purchase_stats(*, merchant: Merchant) -> dict:
    """Small counters for the cashier page header."""
    return Purchase.objects.filter(merchant=merchant).aggregate(
        purchases=Count("pk"), with_card=Count("pk", filter=Q(client__isnull=False))
    )
