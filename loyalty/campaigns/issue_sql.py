"""PostgreSQL statements of the campaign issuance (issuance.py): a chunk's issuances, and for a
certificate campaign the issuances, their certificates and their outbox messages in one
statement — the rows the insert added, and only those, get a certificate and a message.

Every statement holds the campaign: it takes the campaign row's key lock (what a foreign-key
check would take, once instead of per row), so a campaign deleted meanwhile gets no issuance.
With the chunk's clients locked by the caller, that is the integrity the issuances' and
certificates' unchecked client and campaign keys rely on (loyalty.models.CampaignIssuance)."""

from django.db import connection

from ..ledger.params import array_text, json_rows
from ..models import Campaign, CampaignIssuance, Certificate, OutboxMessage
from .sql import db_type, insert_select

RETURNING = "RETURNING id, client_id, period_key, certificate_id"


def issuance_insert(rows: list[tuple], *, draw_certificates: bool = False) -> tuple[str, list]:
    """`INSERT … ON CONFLICT DO NOTHING RETURNING …` of `rows` (merchant_id, campaign_id,
    client_id, period_key, points, issued_at — one campaign) as (sql, params): one row per
    array position, a handful of parameters whatever the chunk's size. With
    `draw_certificates` each new row gets its certificate's id from the certificates'
    sequence."""
    ops = connection.ops
    cols = ["merchant_id", "campaign_id", "client_id", "period_key", "points", "issued_at"]
    draw = ""
    if draw_certificates:
        cols.append("certificate_id")
        sequence = ops.quote_name(Certificate._meta.db_table)
        # The sequence is named once per statement (an init plan), not once per row.
        draw = f", nextval((SELECT pg_get_serial_sequence('{sequence}', 'id'))::regclass)"
    merchant_id, campaign_id, _c, _k, points, issued_at = rows[0]
    params = [
        merchant_id,
        ops.adapt_decimalfield_value(points, 14, 2),
        ops.adapt_datetimefield_value(issued_at),
        array_text([row[2] for row in rows]),
        [row[3] for row in rows],
        campaign_id,
    ]
    sql = (
        f"INSERT INTO {ops.quote_name(CampaignIssuance._meta.db_table)} "
        f"({', '.join(ops.quote_name(c) for c in cols)}) "
        "SELECT %s::bigint, k.id, t.client_id, t.period_key, %s::numeric, "
        f"%s::timestamptz{draw} "
        "FROM unnest(%s::bigint[], %s::text[]) AS t(client_id, period_key), "
        f"(SELECT id FROM {ops.quote_name(Campaign._meta.db_table)} WHERE id = %s "
        "FOR KEY SHARE) AS k "
        f"ON CONFLICT (campaign_id, client_id, period_key) DO NOTHING {RETURNING}"
    )
    return sql, params


def certificates_issue(
    rows: list[tuple], *, certificate: dict, subject: str, messages: dict
) -> list[int]:
    """Issue a certificate campaign's `rows` in one statement: the issuances (the unissued
    pairs only), a certificate for each with the id drawn for it (`certificate`: the
    certificates' constant fields) and its outbox message. `messages`: equal-length lists
    `client_id`, `period_key`, `channel`, `recipient`, `body`, one per row, joined to the
    issuances inserted. Returns the new messages' ids, one per issuance inserted."""
    issuances, params = issuance_insert(rows, draw_certificates=True)
    certificates, certificate_params = insert_select(
        Certificate,
        constants=certificate,
        expressions={"id": "i.certificate_id", "client_id": "i.client_id"},
        source="i",
    )
    fields = {name: OutboxMessage._meta.get_field(name) for name in ("channel", "recipient")}
    # The messages' texts as one JSON parameter: the driver would quote every element of
    # text lists in Python, the JSON encoder writes them in C.
    record = (
        "client_id bigint, period_key text, "
        f"channel {db_type(fields['channel'])}, recipient {db_type(fields['recipient'])}, "
        "body text"
    )
    outbox, outbox_params = insert_select(
        OutboxMessage,
        constants={"merchant_id": certificate["merchant_id"], "subject": subject},
        expressions={
            "client_id": "i.client_id",
            "issuance_id": "i.id",
            "channel": "m.channel",
            "recipient": "m.recipient",
            "body": "m.body",
        },
        source=(
            f"i JOIN jsonb_to_recordset(%s::jsonb) AS m({record}) "
            "ON m.client_id = i.client_id AND m.period_key = i.period_key"
        ),
    )
    names = ("client_id", "period_key", "channel", "recipient", "body")
    message_params = [
        json_rows(
            [
                dict(zip(names, values, strict=True))
                for values in zip(*(messages[name] for name in names), strict=True)
            ]
        )
    ]
    sql = f"WITH i AS ({issuances}), c AS ({certificates}) {outbox} RETURNING id"
    with connection.cursor() as cursor:
        cursor.execute(sql, params + certificate_params + outbox_params + message_params)
        return [row[0] for row in cursor.fetchall()]
