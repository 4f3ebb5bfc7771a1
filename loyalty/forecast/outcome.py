"""A replay's outcome: the totals the forecast's figures read, in plain values that add up
across the groups of members a forecast replays apart (`groups`)."""

from dataclasses import dataclass, replace
from decimal import Decimal

from onboarding.money import ZERO


@dataclass
class Outcome:
    """A replay's totals: month buckets (`ISSUED` … `REVENUE`), points by ledger kind and by
    referral level, campaign tallies, members by tier id, check counts and revenue."""

    months: dict
    by_kind: dict
    by_level: dict
    tallies: dict
    tier_members: dict
    members: int
    checks: int
    card_checks: int
    paying_checks: int
    revenue: Decimal
    card_revenue: Decimal

    def add(self, other: "Outcome") -> None:
        """Add another group's outcome (Decimal sums are exact, so the order does not
        matter)."""
        for key, bucket in other.months.items():
            mine = self.months.setdefault(key, [ZERO] * len(bucket))
            for n, value in enumerate(bucket):
                mine[n] += value
        for mine, theirs in (
            (self.by_kind, other.by_kind),
            (self.by_level, other.by_level),
            (self.tier_members, other.tier_members),
        ):
            for key, value in theirs.items():
                mine[key] = mine.get(key, 0) + value
        for pk, tally in other.tallies.items():
            mine = self.tallies.setdefault(
                pk, replace(tally, issued=0, face_value=ZERO, redeemed=ZERO)
            )
            mine.issued += tally.issued
            mine.face_value += tally.face_value
            mine.redeemed += tally.redeemed
        self.members += other.members
        self.checks += other.checks
        self.card_checks += other.card_checks
        self.paying_checks += other.paying_checks
        self.revenue += other.revenue
        self.card_revenue += other.card_revenue
