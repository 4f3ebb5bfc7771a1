"""Idempotent rewards: one CampaignIssuance per (campaign, client, period), inserted with
ON CONFLICT DO NOTHING; certificates, ledger entries and outbox messages are written only for
the rows this transaction actually inserted.

Each chunk is one transaction that first locks the chunk's clients in primary-key order (the
order purchases lock them too), so a double run, two workers at once or a run killed half-way
never issue twice and never leave a client half-rewarded."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction

from onboarding.money import q

from ..channels.consent import opted_out_ids
from ..ledger import LedgerBatch, lock_accounts
from ..ledger.params import ids_in
from ..models import (
    Campaign,
    CampaignIssuance,
    Certificate,
    Channel,
    LedgerKind,
    OutboxMessage,
    RewardForm,
)
from .audience import campaign_admits
from .budget import budget_room, has_budget, lock_campaign
from .issue_sql import certificates_issue, issuance_insert
from .outbox import MessageRenderer, Recipient
from .sql import bulk_set, insert_set

CHUNK = 1000


@dataclass
class IssueOutcome:
    """What one call issued (only rows inserted by this call)."""

    campaign_id: int
    issued: int = 0
    points: Decimal = Decimal("0.00")
    certificates: int = 0
    message_ids: list[int] = field(default_factory=list)
    # Clients the monthly budget left without their reward (see budget.py).
    left_out: list[int] = field(default_factory=list)

    def add(self, other: "IssueOutcome") -> None:
        self.issued += other.issued
        self.points += other.points
        self.certificates += other.certificates
        self.message_ids.extend(other.message_ids)
        self.left_out.extend(other.left_out)


def _insert_issuances(rows: list[tuple]) -> list[tuple]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING (id, client_id, period_key, certificate_id) of
    new rows only; `rows` are (merchant_id, campaign_id, client_id, period_key, points,
    issued_at), all of one campaign, for clients whose rows this transaction has locked.

    The statement holds the campaign (issue_sql.py on PostgreSQL; elsewhere it reads the
    row): a campaign deleted meanwhile gets no issuance."""
    if connection.vendor == "postgresql":
        sql, params = issuance_insert(rows)
    else:
        ops = connection.ops
        cols = ["merchant_id", "campaign_id", "client_id", "period_key", "points", "issued_at"]
        row = "(%s, %s, %s, %s, %s, %s)"
        sql = (
            f"INSERT INTO {ops.quote_name(CampaignIssuance._meta.db_table)} "
            f"({', '.join(ops.quote_name(c) for c in cols)}) "
            f"SELECT * FROM (VALUES {', '.join([row] * len(rows))}) "
            f"WHERE EXISTS (SELECT 1 FROM {ops.quote_name(Campaign._meta.db_table)} WHERE id = %s) "
            "ON CONFLICT (campaign_id, client_id, period_key) DO NOTHING "
            "RETURNING id, client_id, period_key, certificate_id"
        )
        params = []
        for merchant_id, campaign_id, client_id, period_key, points, issued_at in rows:
            params += [
                merchant_id,
                campaign_id,
                client_id,
                period_key,
                ops.adapt_decimalfield_value(points, 14, 2),
                ops.adapt_datetimefield_value(issued_at),
            ]
        params.append(rows[0][1])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(row[0], row[1], row[2], row[3]) for row in cursor.fetchall()]


def _within_budget(campaign, rows, moment, tzinfo, outcome) -> list[tuple]:
    """The rows the month's budget still pays for, read under the campaign's lock; the
    clients of the rest go to `outcome.left_out`. Pairs already issued (by a run that held
    the lock before us) are dropped first so they take no room."""
    lock_campaign(campaign)
    issued = set(
        CampaignIssuance.objects.filter(
            campaign=campaign, client_id__in=ids_in({row[2] for row in rows})
        ).values_list("client_id", "period_key")
    )
    rows = [row for row in rows if (row[2], row[3]) not in issued]
    room = budget_room(campaign=campaign, moment=moment, tzinfo=tzinfo)
    outcome.left_out.extend(row[2] for row in rows[room:])
    return rows[:room]


def issue_rewards(
    *,
    campaign: Campaign,
    items: list[tuple[int, str]],
    moment: datetime,
    merchant_name: str,
    tzinfo,
    burn_at: datetime | None = None,
) -> IssueOutcome:
    """Reward each (client_id, period_key) of `items` once, for ever.

    Points go to the balance as a `campaign` ledger entry (its unspent part burning at
    `burn_at` if given); certificates are created active for the campaign's validity. Every
    new issuance gets an outbox message, which is also the card inbox entry: over the
    campaign's channel, or the inbox only for clients without consent to messages or who
    unsubscribed from that channel. Pairs already issued and clients outside the campaign's
    audience (see audience.py) are skipped silently. Safe to call concurrently and to repeat."""
    outcome = IssueOutcome(campaign_id=campaign.pk)
    pending = sorted(set(items))
    for start in range(0, len(pending), CHUNK):
        outcome.add(
            _issue_chunk(
                campaign=campaign,
                items=pending[start : start + CHUNK],
                moment=moment,
                merchant_name=merchant_name,
                tzinfo=tzinfo,
                burn_at=burn_at,
            )
        )
    return outcome


def _issue_chunk(*, campaign, items, moment, merchant_name, tzinfo, burn_at):
    outcome = IssueOutcome(campaign_id=campaign.pk)
    client_ids = sorted({cid for cid, _key in items})
    # Cheap pre-filter so a re-run neither locks nor inserts anything.
    done = set(
        CampaignIssuance.objects.filter(
            campaign=campaign, client_id__in=ids_in(client_ids)
        ).values_list("client_id", "period_key")
    )
    items = [item for item in items if item not in done]
    if not items:
        return outcome
    points = q(campaign.reward_points)
    is_certificate = campaign.reward_form == RewardForm.CERTIFICATE
    with transaction.atomic():
        # The ledger's lock order (primary key), with what the messages need in one read.
        accounts = {
            cid: account
            for cid, account in lock_accounts(
                {cid for cid, _key in items},
                columns=("full_name", "phone", "email", "consent"),
                is_set=("joined_at",),
            ).items()
            if account.merchant_id == campaign.merchant_id
            # Only the campaign's audience, checked under the lock (see audience.py).
            and campaign_admits(
                campaign, joined=bool(account.extra[4]), consent=bool(account.extra[3])
            )
        }
        locked = {cid: (cid, *account.extra[:4]) for cid, account in accounts.items()}
        rows = [
            (campaign.merchant_id, campaign.pk, cid, key, points, moment)
            for cid, key in items
            if cid in locked
        ]
        if not rows:
            return outcome
        if has_budget(campaign):
            rows = _within_budget(campaign, rows, moment, tzinfo, outcome)
            if not rows:
                return outcome
        renderer = MessageRenderer(campaign=campaign, merchant_name=merchant_name, tzinfo=tzinfo)
        valid_until = burn_at
        cap = None
        if is_certificate:
            valid_until = moment + timedelta(days=campaign.certificate_valid_days or 30)
            cap = (
                campaign.redemption_cap_percent
                if campaign.redemption_cap_percent is not None
                else Decimal(100)
            )
        messages = _MessageParts(campaign, renderer, locked, points, valid_until)
        if is_certificate and connection.vendor == "postgresql":
            # Set-based: issuances, certificates and messages in one statement (issue_sql.py).
            columns = messages.columns([(row[2], row[3]) for row in rows], "period_key")
            outcome.message_ids = certificates_issue(
                rows,
                certificate=_certificate_constants(campaign, points, cap, moment, valid_until),
                subject=renderer.subject,
                messages=columns,
            )
            outcome.issued = outcome.certificates = len(outcome.message_ids)
            outcome.points = points * outcome.issued
            return outcome
        inserted = _insert_issuances(rows)
        if not inserted:
            return outcome
        if is_certificate:
            certificates = Certificate.objects.bulk_create(
                [
                    Certificate(
                        client_id=cid,
                        **_certificate_constants(campaign, points, cap, moment, valid_until),
                    )
                    for _iid, cid, _key, _cert in inserted
                ]
            )
            bulk_set(
                CampaignIssuance,
                "certificate",
                {
                    iid: cert.pk
                    for (iid, _cid, _key, _none), cert in zip(inserted, certificates, strict=True)
                },
            )
            outcome.certificates = len(inserted)
        else:
            batch = LedgerBatch(accounts)
            for _iid, cid, key, _cert in inserted:
                batch.post_plain(
                    client_id=cid,
                    kind=LedgerKind.CAMPAIGN,
                    points=points,
                    campaign_id=campaign.pk,
                    expires_at=valid_until,
                    reason=f"{campaign.kind}:{key}"[:300],
                    created_at=moment,
                )
            batch.flush(need_ids=False)
        by_issuance = [(iid, cid) for iid, cid, _key, _cert in inserted]
        if connection.vendor == "postgresql":
            outcome.message_ids = insert_set(
                OutboxMessage,
                constants={"merchant_id": campaign.merchant_id, "subject": renderer.subject},
                columns=messages.columns([(cid, iid) for iid, cid in by_issuance], "issuance_id"),
                returning=True,
            )
        else:
            created = OutboxMessage.objects.bulk_create(
                [messages.build(cid, iid) for iid, cid in by_issuance]
            )
            outcome.message_ids = [m.pk for m in created]
        outcome.issued = len(inserted)
        outcome.points = points * len(inserted)
    return outcome


def _certificate_constants(campaign, points, cap, moment, valid_until) -> dict:
    """The fields every certificate of one chunk shares."""
    return {
        "merchant_id": campaign.merchant_id,
        "campaign_id": campaign.pk,
        "points": points,
        "redemption_cap_percent": cap,
        "issued_at": moment,
        "valid_until": valid_until,
        "remainder_burns": campaign.certificate_remainder_burns,
    }


class _MessageParts:
    """A chunk's outbox messages: over the campaign's channel, or the inbox only for clients
    without consent to messages or who unsubscribed from that channel (looked up once, on
    first use)."""

    def __init__(self, campaign, renderer, locked, points, valid_until):
        self.campaign, self.renderer, self.locked = campaign, renderer, locked
        self.points, self.valid_until = points, valid_until
        self.opted_out = None

    def _channel(self, cid, consent, client_ids):
        if self.opted_out is None:
            self.opted_out = (
                opted_out_ids(client_ids=client_ids, channel=self.campaign.channel)
                if self.campaign.channel != Channel.INBOX
                else set()
            )
        return None if consent and cid not in self.opted_out else Channel.INBOX

    def columns(self, pairs: list[tuple], key: str) -> dict:
        """Column lists for a set-based insert: one message per (client_id, `key` value)."""
        client_ids = [cid for cid, _value in pairs]
        columns = {"client_id": [], key: [], "channel": [], "recipient": [], "body": []}
        for cid, value in pairs:
            _id, full_name, phone, email, consent = self.locked[cid]
            channel, address, body = self.renderer.parts(
                recipient=Recipient(cid, full_name, phone, email),
                points=self.points,
                valid_until=self.valid_until,
                channel=self._channel(cid, consent, client_ids),
            )
            columns["client_id"].append(cid)
            columns[key].append(value)
            columns["channel"].append(channel)
            columns["recipient"].append(address)
            columns["body"].append(body)
        return columns

    def build(self, cid: int, issuance_id: int) -> OutboxMessage:
        """An unsaved message (the row-by-row path)."""
        _id, full_name, phone, email, consent = self.locked[cid]
        return self.renderer.build(
            recipient=Recipient(cid, full_name, phone, email),
            issuance_id=issuance_id,
            points=self.points,
            valid_until=self.valid_until,
            channel=self._channel(cid, consent, list(self.locked)),
        )
