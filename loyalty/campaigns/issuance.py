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
from ..models import (
    Campaign,
    CampaignIssuance,
    Certificate,
    Channel,
    LedgerKind,
    OutboxMessage,
    RewardForm,
)
from ..services.arrays import array_text, ids_in
from .audience import campaign_admits
from .budget import budget_room, has_budget, lock_campaign
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


def _insert_issuances(rows: list[tuple], *, draw_certificates: bool = False) -> list[tuple]:
    """INSERT … ON CONFLICT DO NOTHING RETURNING (id, client_id, period_key, certificate_id) of
    new rows only.

    `rows` are (merchant_id, campaign_id, client_id, period_key, points, issued_at), all of
    one campaign, for clients whose rows this transaction has locked. With
    `draw_certificates` (PostgreSQL) each new row gets its certificate's id drawn from the
    certificates' sequence in the same statement; the certificates are inserted next with
    those ids, so no issuance is updated after.

    The statement itself holds the campaign: on PostgreSQL it takes the campaign row's key
    lock (what a foreign-key check would take, once instead of per row), elsewhere it reads
    the row; a campaign deleted meanwhile gets no issuance. With the clients locked, that is
    the integrity the issuances' and certificates' unchecked client and campaign keys rely
    on (loyalty.models.CampaignIssuance)."""
    meta = CampaignIssuance._meta
    ops = connection.ops
    table = ops.quote_name(meta.db_table)
    campaigns = ops.quote_name(Campaign._meta.db_table)
    cols = ["merchant_id", "campaign_id", "client_id", "period_key", "points", "issued_at"]
    merchant_id, campaign_id, _c, _k, points, issued_at = rows[0]
    if connection.vendor == "postgresql":
        # One row per array position: a handful of parameters whatever the chunk's size.
        draw = ""
        if draw_certificates:
            cols.append("certificate_id")
            sequence = ops.quote_name(Certificate._meta.db_table)
            # The sequence is named once per statement (an init plan), not once per row.
            draw = f", nextval((SELECT pg_get_serial_sequence('{sequence}', 'id'))::regclass)"
        params = [
            merchant_id,
            ops.adapt_decimalfield_value(points, 14, 2),
            ops.adapt_datetimefield_value(issued_at),
            array_text([row[2] for row in rows]),
            [row[3] for row in rows],
            campaign_id,
        ]
        source = (
            "SELECT %s::bigint, k.id, t.client_id, t.period_key, %s::numeric, "
            f"%s::timestamptz{draw} "
            "FROM unnest(%s::bigint[], %s::text[]) AS t(client_id, period_key), "
            f"(SELECT id FROM {campaigns} WHERE id = %s FOR KEY SHARE) AS k"
        )
    else:
        row = "(%s, %s, %s, %s, %s, %s)"
        source = (
            "SELECT * FROM (VALUES "
            + ", ".join([row] * len(rows))
            + f") WHERE EXISTS (SELECT 1 FROM {campaigns} WHERE id = %s)"
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
        params.append(campaign_id)
    sql = (
        f"INSERT INTO {table} ({', '.join(ops.quote_name(c) for c in cols)}) {source} "
        "ON CONFLICT (campaign_id, client_id, period_key) DO NOTHING "
        "RETURNING id, client_id, period_key, certificate_id"
    )
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
                columns=("full_name", "phone", "email", "consent", "joined_at"),
            ).items()
            if account.merchant_id == campaign.merchant_id
            # Only the campaign's audience, checked under the lock (see audience.py).
            and campaign_admits(
                campaign, joined=account.extra[4] is not None, consent=bool(account.extra[3])
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
        draw = is_certificate and connection.vendor == "postgresql"
        inserted = _insert_issuances(rows, draw_certificates=draw)
        if not inserted:
            return outcome
        valid_until = None
        by_issuance = {}
        if is_certificate:
            valid_until = moment + timedelta(days=campaign.certificate_valid_days or 30)
            cap = (
                campaign.redemption_cap_percent
                if campaign.redemption_cap_percent is not None
                else Decimal(100)
            )
            if draw:
                # Set-based: the ids drawn with the issuances, one INSERT … SELECT unnest.
                insert_set(
                    Certificate,
                    constants={
                        "merchant_id": campaign.merchant_id,
                        "campaign_id": campaign.pk,
                        "points": points,
                        "redemption_cap_percent": cap,
                        "issued_at": moment,
                        "valid_until": valid_until,
                        "remainder_burns": campaign.certificate_remainder_burns,
                    },
                    columns={
                        "id": [cert_id for _iid, _cid, _key, cert_id in inserted],
                        "client_id": [cid for _iid, cid, _key, _cert in inserted],
                    },
                )
            else:
                certificates = Certificate.objects.bulk_create(
                    [
                        Certificate(
                            merchant_id=campaign.merchant_id,
                            client_id=cid,
                            campaign=campaign,
                            points=points,
                            redemption_cap_percent=cap,
                            issued_at=moment,
                            valid_until=valid_until,
                            remainder_burns=campaign.certificate_remainder_burns,
                        )
                        for _iid, cid, _key, _cert in inserted
                    ]
                )
                bulk_set(
                    CampaignIssuance,
                    "certificate",
                    {
                        iid: cert.pk
                        for (iid, _cid, _key, _none), cert in zip(
                            inserted, certificates, strict=True
                        )
                    },
                )
            outcome.certificates = len(inserted)
        else:
            valid_until = burn_at
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
        for iid, cid, _key, _cert in inserted:
            by_issuance[iid] = cid
        renderer = MessageRenderer(campaign=campaign, merchant_name=merchant_name, tzinfo=tzinfo)
        opted_out = (
            opted_out_ids(client_ids=by_issuance.values(), channel=campaign.channel)
            if campaign.channel != Channel.INBOX
            else set()
        )
        if connection.vendor == "postgresql":
            columns = {
                "client_id": [],
                "issuance_id": [],
                "channel": [],
                "recipient": [],
                "body": [],
            }
            for iid, cid in by_issuance.items():
                _id, full_name, phone, email, consent = locked[cid]
                channel, address, body = renderer.parts(
                    recipient=Recipient(cid, full_name, phone, email),
                    points=points,
                    valid_until=valid_until,
                    channel=None if consent and cid not in opted_out else Channel.INBOX,
                )
                columns["client_id"].append(cid)
                columns["issuance_id"].append(iid)
                columns["channel"].append(channel)
                columns["recipient"].append(address)
                columns["body"].append(body)
            outcome.message_ids = insert_set(
                OutboxMessage,
                constants={"merchant_id": campaign.merchant_id, "subject": renderer.subject},
                columns=columns,
                returning=True,
            )
        else:
            messages = []
            for iid, cid in by_issuance.items():
                _id, full_name, phone, email, consent = locked[cid]
                messages.append(
                    renderer.build(
                        recipient=Recipient(cid, full_name, phone, email),
                        issuance_id=iid,
                        points=points,
                        valid_until=valid_until,
                        channel=None if consent and cid not in opted_out else Channel.INBOX,
                    )
                )
            created = OutboxMessage.objects.bulk_create(messages)
            outcome.message_ids = [m.pk for m in created]
        outcome.issued = len(inserted)
        outcome.points = points * len(inserted)
    return outcome
