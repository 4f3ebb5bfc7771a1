"""The program's rules run over a demo merchant's generated purchases in time order (tiers,
redemption, cashback, referral rewards) and the lapsed-client gift of the seeds that have one,
so that the demo's cached balances equal its ledger."""

import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from crm.models import Segment
from loyalty.campaigns.expiry import BURN_PREFIX
from loyalty.campaigns.segments import gift_period
from loyalty.models import (
    Campaign,
    CampaignIssuance,
    LedgerEntry,
    LedgerKind,
    PaymentType,
    Purchase,
    PurchaseSource,
)
from onboarding.models import Merchant
from onboarding.money import ZERO, percent_of, q, q_down


def moment_aware(merchant: Merchant, day: date, rng: random.Random) -> datetime:
    moment = time(hour=rng.randint(10, 20), minute=rng.randint(0, 59))
    return datetime.combine(day, moment, tzinfo=merchant.tzinfo)


def amounts_fit(amounts: list, positions: list[int], total: Decimal, what: str) -> None:
    """Scale the amounts at `positions` so they sum to `total` exactly (cents included)."""
    total = q(total)
    if not positions:
        raise ValueError(f"Demo {what}: no purchases to carry {total}.")
    if total < Decimal("0.01") * len(positions):
        raise ValueError(f"Demo {what}: {total} is too small for {len(positions)} purchases.")
    current = sum((amounts[n] for n in positions), ZERO)
    for n in positions:
        amounts[n] = max(q(amounts[n] * total / current), Decimal("0.01"))
    biggest = max(positions, key=lambda n: amounts[n])
    amounts[biggest] += total - sum((amounts[n] for n in positions), ZERO)


def purchases_simulate(
    merchant,
    events,
    amounts,
    clients,
    parent_of,
    tiers,
    welcome,
    b,
    rng,
    *,
    no_redeem,
    branches,
    staff,
) -> dict:
    """Run the program's rules over the card purchases in time order: tier from spend,
    redemption within the tier cap and the balance, cashback on the money paid, referral
    percentages up the chain and the one-time referral bonus. Clients are not modified."""
    program = merchant.program
    balance = {i: welcome.get(i, ZERO) for i in range(len(clients))}
    spent = {i: ZERO for i in range(len(clients))}
    stats: dict[int, list] = {}
    purchases, purchase_ledger, bought = [], [], set()
    for (moment, idx), amount in zip(events, amounts, strict=True):
        tier = max(
            (t for t in tiers if spent[idx] >= t.spend_threshold),
            key=lambda t: t.position,
            default=None,
        )
        payment = (
            PaymentType.INSTALLMENT
            if (merchant.slug == "zolotoff" and rng.random() < 0.1)
            else rng.choice([PaymentType.CARD, PaymentType.CARD, PaymentType.CASH])
        )
        redeem = ZERO
        if tier and payment != PaymentType.INSTALLMENT and rng.random() < 0.35:
            cap = q_down(amount * tier.max_redemption_percent / 100)
            redeem = q_down(min(balance[idx], cap) * Decimal(rng.choice([0.3, 0.6, 1])))
            if idx in no_redeem:
                redeem = ZERO
        paid = amount - redeem
        accrued = percent_of(paid, tier.cashback_percent) if tier else ZERO
        purchase = Purchase(
            merchant=merchant,
            client=clients[idx],
            branch=rng.choice(branches),
            cashier=rng.choice(staff) if staff else None,
            source=PurchaseSource.DEMO,
            occurred_at=moment,
            amount=amount,
            points_redeemed=redeem,
            paid_money=paid,
            payment_type=payment,
            by_phone=rng.random() < b["by_phone_share"],
            points_accrued=accrued,
            tier=tier,
        )
        purchases.append(purchase)
        entries = []
        if redeem:
            entries.append((idx, LedgerKind.REDEMPTION, -redeem, None))
        if accrued:
            entries.append((idx, LedgerKind.ACCRUAL, accrued, None))
        if idx in parent_of and idx not in bought and program.referral_bonus_points:
            entries.append(
                (parent_of[idx], LedgerKind.REFERRAL_BONUS, program.referral_bonus_points, None)
            )
        ancestor, level = parent_of.get(idx), 1
        for percent in program.referral_percents:
            if ancestor is None:
                break
            if percent:
                entries.append((ancestor, LedgerKind.REFERRAL, percent_of(paid, percent), level))
            ancestor, level = parent_of.get(ancestor), level + 1
        for owner_idx, kind, points, lvl in entries:
            balance[owner_idx] += points
            purchase_ledger.append(
                (
                    purchase,
                    LedgerEntry(
                        merchant=merchant,
                        client=clients[owner_idx],
                        kind=kind,
                        points=points,
                        referral_level=lvl,
                        created_at=moment,
                    ),
                )
            )
        spent[idx] += amount
        bought.add(idx)
        row = stats.setdefault(idx, [0, moment, moment])
        row[0] += 1
        row[2] = moment
    return {
        "purchases": purchases,
        "purchase_ledger": purchase_ledger,
        "balance": balance,
        "spent": spent,
        "clients": stats,
    }


GIFT_HOUR = time(9)


def lapsed_returns(merchant, events, client_group, spec, *, as_of, rng):
    """Seed 004's lapsed-client gift: `returned` clients of the free rest whose previous
    purchase is older than `lapsed_days` come back within the gift's three days — their
    last purchase is moved into that window. Returns the re-sorted events and the clients."""
    gift_day = as_of - timedelta(days=spec["days_before_as_of"])
    cutoff = gift_day - timedelta(days=spec["lapsed_days"])
    by_client: dict[int, list[int]] = {}
    for n, (_moment, idx) in enumerate(events):
        by_client.setdefault(idx, []).append(n)
    eligible = sorted(
        idx
        for idx, ns in by_client.items()
        if len(ns) >= 2 and client_group[idx] is None and events[ns[-2]][0].date() < cutoff
    )
    if len(eligible) < spec["returned"]:
        raise ValueError(f"Demo {merchant}: too few lapsed clients for the gift.")
    returners = rng.sample(eligible, spec["returned"])
    for idx in returners:
        n = by_client[idx][-1]
        day = gift_day + timedelta(days=rng.randint(0, 2))
        events[n] = (moment_aware(merchant, day, rng), idx)
    events.sort(key=lambda e: e[0])
    return events, set(returners)


def lapsed_gifts_issue(merchant, events, clients, returners, spec, gift_day, issuances) -> list:
    """The gift itself: a "lapsed clients" segment, one issuance and one burning campaign
    entry per lapsed client (the returners and every buyer with no purchase since the
    cut-off). Returns the gift ledger entries; `lapsed_gifts_burn` burns them afterwards."""
    campaign = Campaign.objects.filter(merchant=merchant, kind="segment_gift").first()
    if campaign is None:
        return []
    segment, _created = Segment.objects.get_or_create(
        merchant=merchant,
        name="Давно не были",
        defaults={"kind": Segment.Kind.LAPSED, "lapsed_days": spec["lapsed_days"]},
    )
    cutoff = gift_day - timedelta(days=spec["lapsed_days"])
    last: dict[int, date] = {}
    for moment, idx in events:
        if idx not in returners:
            last[idx] = moment.date()
    lapsed = sorted(returners | {idx for idx, day in last.items() if day < cutoff})
    issued = datetime.combine(gift_day, GIFT_HOUR, tzinfo=merchant.tzinfo)
    burn = issued + timedelta(days=campaign.burn_after_days or 3)
    key = gift_period(segment, gift_day)
    gifts = []
    for idx in lapsed:
        issuances.append(
            CampaignIssuance(
                merchant=merchant,
                campaign=campaign,
                client=clients[idx],
                period_key=key,
                points=campaign.reward_points,
                issued_at=issued,
            )
        )
        gifts.append(
            LedgerEntry(
                merchant=merchant,
                client=clients[idx],
                kind=LedgerKind.CAMPAIGN,
                points=campaign.reward_points,
                campaign=campaign,
                expires_at=burn,
                reason=f"{campaign.kind}:{key}",
                created_at=issued,
            )
        )
    return gifts


def lapsed_gifts_burn(merchant, gifts: list) -> None:
    """Each gift burned whole at its expiry (the returners redeemed no points in between),
    named the way `gifts_burn` names its burns so a later run burns nothing twice."""
    LedgerEntry.objects.bulk_create(
        [
            LedgerEntry(
                merchant=merchant,
                client_id=g.client_id,
                kind=LedgerKind.EXPIRY,
                points=-g.points,
                campaign=g.campaign,
                reason=f"{BURN_PREFIX}{g.pk}",
                created_at=g.expires_at,
            )
            for g in gifts
        ]
    )
