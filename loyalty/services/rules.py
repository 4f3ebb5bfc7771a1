"""The program as the engine reads it (one query), and the pure arithmetic of a purchase:
tier, redemption caps, certificate share, accrual base. No database writes here.

Rounding (see `onboarding.money`): caps are rounded down (`q_down`) so a cap is never exceeded;
every computed award (cashback, referral %, proportional refund shares) is rounded half-up
to 0.01 (`q`)."""

from bisect import bisect_right
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from loyalty.models import LedgerKind, PaymentType, Program, ReferralTrigger, Tier
from onboarding.money import HUNDRED, ZERO, percent_of, q, q_down

from .lines import line_figures, line_rewards


@dataclass(frozen=True)
class Rules:
    """A merchant's program settings and tier ladder (ordered by position)."""

    merchant_id: int
    program: Program | None
    tiers: tuple

    @property
    def welcome_points(self) -> Decimal:
        return self.program.welcome_points if self.program else ZERO

    @property
    def referral_percents(self) -> list:
        return self.program.referral_percents if self.program else []

    @cached_property
    def _tiers_by_id(self) -> dict:
        """The ladder by tier id, looked up once per `Rules` (the first tier of an id wins)."""
        by_id: dict = {}
        for tier in self.tiers:
            by_id.setdefault(tier.pk, tier)
        return by_id

    def tier_by_id(self, tier_id) -> Tier | None:
        return self._tiers_by_id.get(tier_id)

    @cached_property
    def _thresholds(self) -> list | None:
        """The spend thresholds in ladder order when they never fall along it (then the tier
        a spend reaches is found by bisection), else None (the ladder is walked)."""
        thresholds = [tier.spend_threshold for tier in self.tiers]
        return thresholds if thresholds == sorted(thresholds) else None

    def tier_for_spend(self, spent) -> Tier | None:
        """The highest tier whose spend threshold `spent` reaches (the entry tier at least)."""
        if type(spent) is not Decimal:
            spent = Decimal(spent)
        tiers = self.tiers
        thresholds = self._thresholds
        if thresholds is not None:
            reached = bisect_right(thresholds, spent)  # how many thresholds `spent` reaches
            return tiers[reached - 1] if reached else (tiers[0] if tiers else None)
        reached = None
        for tier in tiers:
            if spent >= tier.spend_threshold:
                reached = tier
        return reached or (tiers[0] if tiers else None)

    def current_tier(self, client) -> Tier | None:
        """The tier a purchase is served at: the client's stored tier, or by spend if unset."""
        return self.tier_by_id(client.tier_id) or self.tier_for_spend(client.total_spent)

    def next_tier(self, client) -> Tier | None:
        """The tier after the client's spend changed: rises with spend; falls only if the
        program allows it; a manually assigned (locked) tier never moves."""
        current = self.tier_by_id(client.tier_id)
        if client.tier_locked and current is not None:
            return current
        by_spend = self.tier_for_spend(client.total_spent)
        if current is None or by_spend is None:
            return by_spend or current
        if by_spend.position > current.position:
            return by_spend
        if by_spend.position < current.position and self.program and self.program.tiers_can_fall:
            return by_spend
        return current


def load_rules(merchant) -> Rules:
    """The program and tiers of `merchant` (one query when tiers exist)."""
    tiers = tuple(
        Tier.objects.filter(program__merchant_id=merchant.pk)
        .select_related("program")
        .order_by("position")
    )
    program = tiers[0].program if tiers else Program.objects.filter(merchant=merchant).first()
    return Rules(merchant_id=merchant.pk, program=program, tiers=tiers)


@dataclass(frozen=True)
class Limits:
    """What may pay a check with points: the eligible amount and the caps."""

    eligible: Decimal
    cap_percent: Decimal
    points_cap: Decimal  # the tier cap, before the balance
    max_points: Decimal  # min(cap, balance)
    redemption_allowed: bool


def redemption_limits(
    *, rules: Rules, tier, amount, excluded_amount, payment_type: str, balance
) -> Limits:
    """Caps for one check: points pay at most the tier's cap % of the eligible amount (promo
    items are ineligible unless the program says so), never more than the balance, nothing at
    all for an installment payment when the program makes installments accrual-only."""
    caps = redemption_caps(
        rules=rules,
        tier=tier,
        amount=amount,
        excluded_amount=excluded_amount,
        payment_type=payment_type,
    )
    return Limits(
        eligible=caps.eligible,
        cap_percent=caps.cap_percent,
        points_cap=caps.points_cap,
        max_points=points_payable(caps, balance),
        redemption_allowed=caps.redemption_allowed,
    )


def points_payable(caps: Limits, balance) -> Decimal:
    """What points may pay under `caps` from `balance`: the cap, never more than the balance."""
    return max(min(caps.points_cap, q(balance)), ZERO)


def redemption_caps(*, rules: Rules, tier, amount, excluded_amount, payment_type: str) -> Limits:
    """The part of `redemption_limits` that does not depend on the balance (`max_points` is
    the cap itself): a replay of many checks reuses it for the same tier and check, and
    applies each balance by `points_payable`."""
    amount, excluded = q(amount), q(excluded_amount or 0)
    program = rules.program
    promo_redeemable = bool(program and program.promo_redeemable)
    eligible = amount if promo_redeemable else max(amount - excluded, ZERO)
    allowed = True
    if payment_type == PaymentType.INSTALLMENT and (
        program is None or program.installment_accrual_only
    ):
        allowed = False
    percent = tier.max_redemption_percent if tier is not None else ZERO
    cap = q_down(eligible * percent / HUNDRED) if allowed else ZERO
    return Limits(
        eligible=eligible,
        cap_percent=percent,
        points_cap=cap,
        max_points=cap,
        redemption_allowed=allowed,
    )


def certificate_share(*, certificate, eligible, points) -> Decimal:
    """How much a certificate pays: within its own cap % of the eligible amount, never more
    than what is left on it nor than what the points left of the eligible amount."""
    room = max(q(eligible) - q(points), ZERO)
    cap = q_down(q(eligible) * certificate.redemption_cap_percent / HUNDRED)
    left = q(certificate.points - (certificate.used_points or ZERO))
    return max(min(left, cap, room), ZERO)


def accrual_base(*, rules: Rules, amount, excluded_amount, paid_money) -> Decimal:
    """Money that earns cashback: what was paid in money, less the promo items when the
    program says promo items do not earn. Promo items that points may not pay were paid in
    money entirely; if points may pay them, their share of the money is proportional."""
    amount, excluded, paid = q(amount), q(excluded_amount or 0), q(paid_money)
    program = rules.program
    if program is None or program.promo_earns_points or not excluded:
        return paid
    if program.promo_redeemable and amount:
        return max(paid - q(excluded * paid / amount), ZERO)
    return max(paid - excluded, ZERO)


def cashback(*, tier, base) -> Decimal:
    return percent_of(base, tier.cashback_percent) if tier is not None else ZERO


def check_base(*, rules: Rules, lines, points, certificate_used) -> Decimal:
    """Give each line its share of the points and certificate paid; return the accrual base
    (money paid on the lines that earn, per the program's promo rules)."""
    program = rules.program
    return line_figures(
        lines=lines,
        points=points,
        certificate_used=certificate_used,
        promo_redeemable=bool(program and program.promo_redeemable),
        promo_earns=program is None or program.promo_earns_points,
    )


def check_rewards(*, rules: Rules, tier, lines, base) -> tuple[Decimal, Decimal]:
    """(cashback, referral base) of a check whose accrual base is `base`; each line gets its
    share of both."""
    program = rules.program
    accrued = cashback(tier=tier, base=base)
    referral_base = line_rewards(
        lines=lines,
        accrued=accrued,
        promo_earns=program is None or program.promo_earns_points,
        referral_base=program.referral_base if program is not None else "check",
    )
    return accrued, referral_base


# What a friend's event is: joining the program, their first purchase, a later purchase.
JOINED, FIRST_PURCHASE, PURCHASE = "joined", "first_purchase", "purchase"


def referral_rewards(*, rules: Rules, chain, event: str, referral_base=ZERO) -> list[tuple]:
    """What a friend's event pays up the referral chain (direct referrer first), as
    (ancestor id, level, ledger kind, points): the one-time bonus to the direct referrer on
    the program's trigger event, and on every purchase the recurring % per level."""
    program = rules.program
    if not chain or program is None:
        return []
    rewards = []
    trigger = ReferralTrigger.REGISTRATION if event == JOINED else ReferralTrigger.FIRST_PURCHASE
    if (
        event in (JOINED, FIRST_PURCHASE)
        and program.referral_bonus_trigger == trigger
        and program.referral_bonus_points > 0
    ):
        rewards.append((chain[0], 1, LedgerKind.REFERRAL_BONUS, q(program.referral_bonus_points)))
    if event == JOINED:
        return rewards
    for level, (ancestor, percent) in enumerate(
        zip(chain, rules.referral_percents, strict=False), start=1
    ):
        reward = percent_of(referral_base, percent)
        if reward > 0:
            rewards.append((ancestor, level, LedgerKind.REFERRAL, reward))
    return rewards
