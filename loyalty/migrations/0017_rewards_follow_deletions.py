"""Issuances and certificates written while their client or campaign was being deleted go with
it (PostgreSQL).

Their client and campaign keys have no constraint (0016): the issuance chunk holds the client's
row lock and the campaign's key lock instead. Django's deletion reads a client's (or a
campaign's) issuances and certificates first and deletes the client's row last; a chunk that
commits between the two — its locks make the deletion of the row wait for it — left rows the
deletion had not read, pointing at nothing. A statement trigger on each deletion of clients and
of campaigns now removes what is still left of theirs once the rows are gone (the rows a chunk
committed meanwhile are visible to it, in READ COMMITTED): a client's issuances and
certificates are deleted, a campaign's issuances deleted and its certificates kept without it,
as Django's cascades do; a message of a deleted issuance loses its link. When Django has read
everything, there is nothing left and each trigger is two index look-ups per row deleted.
SQLite has no such window (one writer at a time, and a transaction that read before another's
commit cannot write after it)."""

from django.db import migrations

ISSUANCES_GONE = (
    "WITH gone AS (DELETE FROM loyalty_campaignissuance WHERE {column} = ANY(ARRAY("
    "SELECT id FROM deleted)) RETURNING id) "
    "UPDATE loyalty_outboxmessage SET issuance_id = NULL "
    "WHERE issuance_id IN (SELECT id FROM gone)"
)
CERTIFICATES_OF_CLIENTS = (
    "DELETE FROM loyalty_certificate WHERE client_id = ANY(ARRAY(SELECT id FROM deleted))"
)
CERTIFICATES_OF_CAMPAIGNS = (
    "UPDATE loyalty_certificate SET campaign_id = NULL "
    "WHERE campaign_id = ANY(ARRAY(SELECT id FROM deleted))"
)


def _function(name: str, statements: list[str]) -> str:
    body = "; ".join(statements)
    return (
        f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{body}; RETURN NULL; END $$"
    )


def _trigger(name: str, table: str) -> str:
    return (
        f"CREATE TRIGGER {name} AFTER DELETE ON {table} REFERENCING OLD TABLE AS deleted "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
    )


CREATE = [
    _function(
        "loyalty_client_rewards_gone",
        [ISSUANCES_GONE.format(column="client_id"), CERTIFICATES_OF_CLIENTS],
    ),
    _trigger("loyalty_client_rewards_gone", "crm_client"),
    _function(
        "loyalty_campaign_rewards_gone",
        [ISSUANCES_GONE.format(column="campaign_id"), CERTIFICATES_OF_CAMPAIGNS],
    ),
    _trigger("loyalty_campaign_rewards_gone", "loyalty_campaign"),
]
DROP = [
    "DROP TRIGGER IF EXISTS loyalty_client_rewards_gone ON crm_client",
    "DROP FUNCTION IF EXISTS loyalty_client_rewards_gone()",
    "DROP TRIGGER IF EXISTS loyalty_campaign_rewards_gone ON loyalty_campaign",
    "DROP FUNCTION IF EXISTS loyalty_campaign_rewards_gone()",
]


def _run(schema_editor, statements: list[str]) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for sql in statements:
            schema_editor.execute(sql)


def create_triggers(apps, schema_editor):
    _run(schema_editor, CREATE)


def drop_triggers(apps, schema_editor):
    _run(schema_editor, DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0013_importspeed_birthday_index"),
        ("loyalty", "0016_daily_run_issuance_keys"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
