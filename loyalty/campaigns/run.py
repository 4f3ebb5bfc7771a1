"""One merchant's campaign day: every active campaign's rule, then expiry."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from django.db import DatabaseError, connection

from onboarding.models import Merchant

from ..models import Campaign, CampaignKind
from . import marks, selection
from .dates import local_date, run_moment
from .expiry import ExpiryOutcome, expiry_months, expiry_run
from .issuance import IssueOutcome, issue_rewards

# A rule: `selector(*, campaign, day) -> [(client_id, period_key), …]`, the clients the
# campaign rewards on `day` (the issuance step drops pairs already issued).
Selector = Callable[..., list[tuple[int, str]]]

# The rules the daily run applies (check growth, review and welcome as the catch-up of their
# hooks); segment gifts are sent by a specialist, partner certificates by hand. One entry per
# kind; a kind from another app adds itself with `campaign_rule_register`.
DAILY_SELECTORS: dict[str, Selector] = {
    CampaignKind.BIRTHDAY: selection.birthday_candidates,
    CampaignKind.WINBACK: selection.winback_candidates,
    CampaignKind.CHECK_GROWTH: selection.check_growth_candidates,
    CampaignKind.REVIEW_REWARD: selection.review_candidates,
    CampaignKind.WELCOME: selection.welcome_candidates,
}


def campaign_rule_register(kind: str, selector: Selector) -> None:
    """Make the daily run issue rewards of the active campaigns of `kind` to the clients
    `selector` picks (docs/extending.md "A new campaign kind"). Call it from an
    `AppConfig.ready`; registering a kind again replaces its rule."""
    DAILY_SELECTORS[kind] = selector


def campaign_rule_unregister(kind: str) -> None:
    DAILY_SELECTORS.pop(kind, None)


def daily_campaigns(merchant: Merchant):
    """The merchant's active campaigns the daily run applies (a rule in `DAILY_SELECTORS`), in
    the order it runs them."""
    return Campaign.objects.filter(
        merchant=merchant, is_active=True, kind__in=list(DAILY_SELECTORS)
    ).order_by("pk")


@dataclass
class CampaignLine:
    campaign_id: int
    name: str
    kind: str
    candidates: int
    outcome: IssueOutcome


@dataclass
class RunReport:
    merchant_slug: str
    day: date
    campaigns: list[CampaignLine] = field(default_factory=list)
    expiry: ExpiryOutcome = field(default_factory=ExpiryOutcome)

    @property
    def issued(self) -> int:
        return sum(line.outcome.issued for line in self.campaigns)

    @property
    def left_out(self) -> int:
        return sum(len(line.outcome.left_out) for line in self.campaigns)

    @property
    def message_ids(self) -> list[int]:
        return [mid for line in self.campaigns for mid in line.outcome.message_ids]

    def as_dict(self) -> dict:
        """JSON-friendly summary (Celery results, logs)."""
        return {
            "merchant": self.merchant_slug,
            "day": self.day.isoformat(),
            "issued": self.issued,
            "left_out": self.left_out,
            "campaigns": [
                {
                    "id": line.campaign_id,
                    "name": line.name,
                    "kind": line.kind,
                    "issued": line.outcome.issued,
                    "points": str(line.outcome.points),
                    "certificates": line.outcome.certificates,
                    "left_out": sorted(line.outcome.left_out),
                }
                for line in self.campaigns
            ],
            "expiry": {
                "clients": self.expiry.clients_expired,
                "points": str(self.expiry.points_expired),
                "gifts_burned": self.expiry.gifts_burned,
                "points_burned": str(self.expiry.points_burned),
                "certificates": self.expiry.certificates_expired,
            },
        }


def campaigns_run_day(
    *,
    merchant: Merchant,
    day: date | None = None,
    now: datetime | None = None,
    full: bool = False,
) -> RunReport:
    """Run one local day for the merchant: issue every active daily campaign's rewards and
    apply expiry. `day` defaults to the merchant's today; any past day can be back-filled.
    Idempotent: a second run of the same day issues and expires nothing; it is decided by
    the day's mark (marks.py), skipping every campaign whose settings did not change; `full`
    ignores the mark (client data fixed after the day ran)."""
    if day is None:
        day = local_date(merchant, now) if now else merchant.local_today()
    moment = run_moment(merchant, day, now)
    report = RunReport(merchant_slug=merchant.slug, day=day)
    # A day already run is decided by its mark: each part whose settings are unchanged is
    # skipped (see marks.py).
    previous = None if full else marks.day_mark(merchant, day)
    done = previous.stamps if previous is not None else {}
    stamps = {}
    # The chunks' commits do not wait for their WAL to reach the disk; the mark's commit
    # below does, and with it every chunk's before it (see `_chunk_commits_unflushed`).
    with _chunk_commits_unflushed(previous is None):
        for campaign in daily_campaigns(merchant):
            campaign.merchant = merchant
            key, stamp = marks.campaign_key(campaign), marks.campaign_stamp(campaign, merchant)
            if done.get(key) == stamp:
                report.campaigns.append(
                    CampaignLine(
                        campaign.pk, campaign.name, campaign.kind, 0, IssueOutcome(campaign.pk)
                    )
                )
                continue
            items = DAILY_SELECTORS[campaign.kind](campaign=campaign, day=day)
            outcome = issue_rewards(
                campaign=campaign,
                items=items,
                moment=moment,
                merchant_name=merchant.name,
                tzinfo=merchant.tzinfo,
            )
            report.campaigns.append(
                CampaignLine(campaign.pk, campaign.name, campaign.kind, len(items), outcome)
            )
            # Clients the budget left out keep the campaign unmarked: each run reports them.
            if not outcome.left_out:
                stamps[key] = stamp
        months = expiry_months(merchant)
        stamps[marks.EXPIRY] = marks.expiry_stamp(merchant, months)
        report.expiry = expiry_run(
            merchant=merchant,
            day=day,
            moment=moment,
            months=months,
            since=previous.ran_at if done.get(marks.EXPIRY) == stamps[marks.EXPIRY] else None,
        )
    marks.day_mark_write(
        merchant=merchant, day=day, stamps=stamps, moment=moment, previous=previous
    )
    return report


@contextmanager
def _chunk_commits_unflushed(enabled: bool) -> Iterator[None]:
    """Commit the run's chunks without waiting for each one's WAL flush (PostgreSQL
    `synchronous_commit = off` for this session until the block ends): a first run commits
    a dozen chunks, and each flush is a disk write the run would wait for. Durability is
    unchanged for the run as a whole: the day mark is committed after the block with a
    flush, which writes every earlier commit's WAL too. A server crash during the run can
    lose its last chunks (never half of one), as a run killed half-way leaves them: no mark
    is written, and the next run issues and expires them."""
    if not enabled or connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    done = False
    try:
        yield
        done = True
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("RESET synchronous_commit")
        except DatabaseError:
            if done:
                raise
