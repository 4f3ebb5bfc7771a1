"""The replay: a purchase history run through one program in memory, with the engine's own
rule functions (`loyalty.services.rules`: tiers, redemption caps, certificate share, accrual
base, cashback, referral payouts; the expiry lapse day of `loyalty.campaigns.dates`).

No database access here: `forecast.py` streams the history in and reads the result. A member
joins at their first replayed purchase (welcome points, a registration referral bonus, a
welcome campaign); on `redeem_share` % of the checks where they hold points they pay with as
many as the caps allow, and with a campaign certificate whenever they hold a valid one."""

from collections import defaultdict
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from onboarding.money import ZERO, q

from ..campaigns.dates import balance_lapse_day
from ..models import CampaignKind, LedgerKind
from ..services.lines import lines_from_totals
from ..services.rules import (
    FIRST_PURCHASE,
    JOINED,
    PURCHASE,
    Rules,
    certificate_share,
    check_base,
    check_rewards,
    points_payable,
    redemption_caps,
    referral_rewards,
)
from .gifts import CampaignTally, Gift, birthday_issue_days, is_certificate, winback_issue_day
from .outcome import Outcome

# Month buckets: points issued, redeemed with points, expired; certificates redeemed; card
# revenue.
ISSUED, REDEEMED, EXPIRED, CERTIFICATES, REVENUE = range(5)
MEMO_SIZE = 200_000
NEVER = date.max


class Account:
    """A replayed member: what `Rules.current_tier`/`next_tier` read, plus the balance."""

    __slots__ = (
        "tier_id",
        "tier_locked",
        "total_spent",
        "balance",
        "purchases_count",
        "activity",
        "last",
        "joined",
        "lapsed",
        "gifts",
        "pending",
        "lapse",
        "due",
        "tier",
    )

    def __init__(self, day: date, lapse: date):
        self.tier_id = None
        self.tier_locked = False
        self.total_spent = ZERO
        self.balance = ZERO
        self.purchases_count = 0
        self.activity = day
        self.last = None
        self.joined = day
        self.lapsed = False
        self.gifts = []
        self.pending = []  # (day, campaign) of gifts due on a known day
        self.lapse = lapse  # the day the balance lapses if nothing happens before (`activity`)
        self.due = NEVER  # the first day a dated gift may be due (`pending`, `last`)
        self.tier = None  # `Rules.current_tier` of this account while `tier_id` stays


class Replay:
    """One program over one history. Feed `purchase()` in time order, then `result()`."""

    def __init__(
        self,
        *,
        rules: Rules,
        redeem_share: int,
        chains: dict,
        birthdays: dict,
        campaigns: list,
        start: date,
        end: date,
    ):
        self.rules, self.redeem_share = rules, int(redeem_share)
        self.chains, self.birthdays = chains, birthdays
        self.start, self.end = start, end
        program = rules.program
        self.expiry_months = program.points_expiry_months if program is not None else None
        self.welcome = rules.welcome_points
        self.accounts: dict[int, Account] = {}
        self.months = defaultdict(lambda: [ZERO, ZERO, ZERO, ZERO, ZERO])
        self.by_kind = defaultdict(lambda: ZERO)  # points issued by ledger kind
        self.by_level = defaultdict(lambda: ZERO)  # referral points by level (bonus as 0)
        self.card_revenue = self.revenue = ZERO
        self.card_checks = self.checks = self.paying_checks = 0
        self._redeem_acc = 0
        self._lapse = {}
        self._limits, self._rewards, self._lines, self._referrals = {}, {}, {}, {}
        self._day = self._month = None  # the last check's day and its month bucket
        self._day_lapse = NEVER  # the lapse day of activity on `_day`
        self._accrued = ZERO  # cashback, added to `by_kind` at the end
        self.campaigns = campaigns
        self.birthday = [c for c in campaigns if c.kind == CampaignKind.BIRTHDAY]
        self.winback = [c for c in campaigns if c.kind == CampaignKind.WINBACK]
        self.growth = [c for c in campaigns if c.kind == CampaignKind.CHECK_GROWTH]
        self.welcoming = [c for c in campaigns if c.kind == CampaignKind.WELCOME]
        self._winback_first = timedelta(
            days=min((c.days_after_last_purchase or 0 for c in self.winback), default=0)
        )
        self.tallies = {c.pk: CampaignTally(c.pk, c.name, c.kind, c.reward_form) for c in campaigns}
        self._tally_of = {id(c): self.tallies[c.pk] for c in campaigns}

    # --- points movements -------------------------------------------------------------
    def _credit(self, account: Account, points: Decimal, day: date, kind: str) -> None:
        self._expire_if_lapsed(account, day)
        account.balance += points
        month = self._month if day == self._day else self.months[(day.year, day.month)]
        month[ISSUED] += points
        self.by_kind[kind] += points

    def _expire_if_lapsed(self, account: Account, day: date) -> None:
        if account.lapse <= day and not account.lapsed and account.balance > 0:
            lapse = account.lapse
            self.months[(lapse.year, lapse.month)][EXPIRED] += account.balance
            account.balance = ZERO
            account.lapsed = True

    def _lapse_day(self, activity: date) -> date:
        """The day a balance lapses after activity on `activity` (never without expiry)."""
        if not self.expiry_months:
            return NEVER
        lapse = self._lapse.get(activity)
        if lapse is None:
            lapse = self._lapse[activity] = balance_lapse_day(activity, self.expiry_months)
        return lapse

    def _set_due(self, account: Account) -> None:
        pending = account.pending
        due = pending[-1][0] if pending else NEVER
        if self.winback and account.last is not None:
            due = min(due, account.last + self._winback_first)
        account.due = due

    def _account(self, cid: int, day: date) -> Account:
        account = self.accounts.get(cid)
        if account is None:
            account = self.accounts[cid] = Account(day, self._lapse_day(day))
            birthday = self.birthdays.get(cid)
            if birthday is not None and self.birthday:
                account.pending = sorted(
                    (
                        (issue, campaign)
                        for campaign in self.birthday
                        for issue in birthday_issue_days(
                            birthday, campaign.days_before or 0, day, self.end
                        )
                    ),
                    key=lambda pair: pair[0],
                    reverse=True,
                )
                self._set_due(account)
            if self.welcome > 0:
                self._credit(account, self.welcome, day, LedgerKind.WELCOME)
            self._pay_referrals(cid, day, JOINED, ZERO)
            for campaign in self.welcoming:
                self._give(account, campaign, day)
        return account

    def _pay_referrals(self, cid: int, day: date, event: str, base: Decimal) -> None:
        chain = self.chains.get(cid)
        if not chain:
            return
        # `referral_rewards` reads the chain only to name who is paid: asked with the chain's
        # places (0, 1, 2: direct referrer first), its answer serves every chain as long.
        key = (len(chain), event, base)
        rewards = self._referrals.get(key)
        if rewards is None:
            rewards = self._remember(
                self._referrals,
                key,
                referral_rewards(
                    rules=self.rules, chain=range(len(chain)), event=event, referral_base=base
                ),
            )
        accounts = self.accounts
        for place, level, kind, points in rewards:
            ancestor = chain[place]
            account = accounts.get(ancestor)
            if account is None:
                account = self._account(ancestor, day)
            self._credit(account, points, day, kind)
            self.by_level[0 if kind == LedgerKind.REFERRAL_BONUS else level] += points

    def _give(self, account: Account, campaign, day: date) -> None:
        tally = self._tally_of[id(campaign)]
        tally.issued += 1
        tally.face_value += campaign.reward_points
        if is_certificate(campaign):
            account.gifts.append(Gift(campaign, day))
        else:
            self._credit(account, campaign.reward_points, day, LedgerKind.CAMPAIGN)

    def _dated_gifts(self, account: Account, day: date) -> None:
        """Give the birthday gifts due by `day` and the win-back gifts the gap since the
        last purchase earned (kept in `pending` order: latest last)."""
        pending = account.pending
        while pending and pending[-1][0] <= day:
            issue, campaign = pending.pop()
            self._give(account, campaign, issue)
        last = account.last
        if last is not None and last + self._winback_first <= day:  # a win-back gift is due
            for campaign in self.winback:
                issue = winback_issue_day(campaign, last, day)
                if issue is not None:
                    self._give(account, campaign, issue)
        self._set_due(account)

    # --- a check ----------------------------------------------------------------------
    def purchase(self, cid, day: date, amount, excluded, payment_type) -> None:
        """Replay one check (a check without a client earns and pays nothing)."""
        self.checks += 1
        self.revenue += amount
        if cid is None:
            return
        self.card_checks += 1
        self.card_revenue += amount
        account = self.accounts.get(cid)
        if account is None:
            account = self._account(cid, day)
        if day != self._day:
            self._new_day(day)
        if account.lapse <= day:
            self._expire_if_lapsed(account, day)
        if account.due <= day:
            self._dated_gifts(account, day)
        rules = self.rules
        tier = account.tier
        if tier is None:
            tier = account.tier = rules.current_tier(account)
        # The rule functions are pure: a repeat of the same inputs reuses their answer (the
        # caps do not depend on the balance; `points_payable` applies it to each check).
        tier_key = id(tier)  # the tier object stands for itself (its pk is a slower lookup)
        key = (tier_key, amount, excluded, payment_type)
        caps = self._limits.get(key)
        if caps is None:
            caps = self._remember(
                self._limits,
                key,
                redemption_caps(
                    rules=rules,
                    tier=tier,
                    amount=amount,
                    excluded_amount=excluded,
                    payment_type=payment_type,
                ),
            )
        points = ZERO
        if caps.points_cap > ZERO and account.balance > ZERO:
            payable = points_payable(caps, account.balance)
            if payable > ZERO:
                self._redeem_acc += self.redeem_share
                if self._redeem_acc >= 100:
                    self._redeem_acc -= 100
                    points = payable
        month = self._month
        month[REVENUE] += amount
        certificate_used = ZERO
        if account.gifts and caps.redemption_allowed:
            certificate_used = self._use_gift(account, day, caps.eligible, points)
            month[CERTIFICATES] += certificate_used
        key = (tier_key, amount, excluded, points, certificate_used)
        rewards = self._rewards.get(key)
        if rewards is None:
            rewards = self._remember(
                self._rewards,
                key,
                self._rewards_of(tier, amount, excluded, points, certificate_used),
            )
        accrued, referral_base = rewards
        if points:
            account.balance -= points
            month[REDEEMED] += points
            self.paying_checks += 1
        if accrued:
            account.balance += accrued
            month[ISSUED] += accrued
            self._accrued += accrued
        if cid in self.chains:
            event = FIRST_PURCHASE if account.purchases_count == 0 else PURCHASE
            self._pay_referrals(cid, day, event, referral_base)
        account.total_spent = q(account.total_spent + amount)
        account.purchases_count += 1
        account.activity = account.last = day
        account.lapse = self._day_lapse
        account.lapsed = False
        next_tier = rules.next_tier(account)
        if next_tier is not None and (next_tier is not tier or account.tier_id is None):
            account.tier_id = next_tier.pk
            account.tier = None
        for campaign in self.growth:
            if amount >= (campaign.min_check_amount or ZERO):
                self._give(account, campaign, day)
        if self.winback:
            self._set_due(account)

    def _new_day(self, day: date) -> None:
        """The first check of a day: its month's bucket and the lapse day of activity on it."""
        self._day, self._month = day, self.months[(day.year, day.month)]
        self._day_lapse = self._lapse_day(day)

    def _rewards_of(self, tier, amount, excluded, points, certificate_used) -> tuple:
        """(cashback, referral base) of a check by the engine's line rules; the lines of a
        check are the same for the same totals (the rule functions overwrite every share
        they set on them)."""
        rules = self.rules
        lines = self._lines.get((amount, excluded))
        if lines is None:
            lines = self._remember(
                self._lines, (amount, excluded), lines_from_totals(amount, excluded, named=False)
            )
        base = check_base(
            rules=rules, lines=lines, points=points, certificate_used=certificate_used
        )
        return check_rewards(rules=rules, tier=tier, lines=lines, base=base)

    def _use_gift(self, account: Account, day: date, eligible, points) -> Decimal:
        live = sorted((g for g in account.gifts if g.last_day >= day), key=lambda g: g.last_day)
        account.gifts = live
        if not live:
            return ZERO
        gift = live[0]
        share = certificate_share(certificate=gift, eligible=eligible, points=points)
        if share > 0:
            gift.used_points = q(gift.used_points + share)
            self.tallies[gift.campaign.pk].redeemed += share
            if gift.burns or gift.used_points >= gift.points:
                live.pop(0)
        return share

    @staticmethod
    def _remember(memo: dict, key, value):
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        memo[key] = value
        return value

    # --- the end ----------------------------------------------------------------------
    def finish(self) -> None:
        """Balances that lapse by the end of the period expire; gifts due by then are given."""
        if self._accrued:
            self.by_kind[LedgerKind.ACCRUAL] += self._accrued
            self._accrued = ZERO
        for account in self.accounts.values():
            if account.pending or self.winback:
                self._dated_gifts(account, self.end)
            self._expire_if_lapsed(account, self.end)

    def outcome(self) -> Outcome:
        """What the forecast's figures read of this replay (after `finish`), in plain values
        that add up across the groups of members a forecast replays apart."""
        tiers: dict = {}
        for account in self.accounts.values():
            tiers[account.tier_id] = tiers.get(account.tier_id, 0) + 1
        return Outcome(
            months={key: list(bucket) for key, bucket in self.months.items()},
            by_kind=dict(self.by_kind),
            by_level=dict(self.by_level),
            tallies={pk: replace(tally) for pk, tally in self.tallies.items()},
            tier_members=tiers,
            members=len(self.accounts),
            checks=self.checks,
            card_checks=self.card_checks,
            paying_checks=self.paying_checks,
            revenue=self.revenue,
            card_revenue=self.card_revenue,
        )
