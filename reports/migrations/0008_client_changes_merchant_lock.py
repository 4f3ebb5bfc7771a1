"""The client changes' trigger (PostgreSQL) takes its merchant's changes lock shared before it
records a row: the refresh holds that lock (`reports.members.lock_changes`) instead of a lock on
the whole table, so one merchant's refresh never holds up another merchant's clients."""

from django.db import migrations

COLUMNS = "merchant_id, client_id, source, source_detail, referred_by, joined_at"
OLD = "OLD.merchant_id, OLD.id, OLD.source, OLD.source_detail, OLD.referred_by_id, OLD.joined_at"
WITH_SNAPSHOT = "EXISTS (SELECT 1 FROM reports_reportsnapshot WHERE merchant_id = OLD.merchant_id)"
LOCK = (
    "PERFORM pg_advisory_xact_lock_shared("
    "'reports_clientchange'::regclass::oid::integer, OLD.merchant_id::integer); "
)


def function(lock: str) -> str:
    return (
        "CREATE OR REPLACE FUNCTION reports_client_change() RETURNS trigger LANGUAGE plpgsql "
        f"AS $$ BEGIN IF {WITH_SNAPSHOT} THEN {lock}"
        f"INSERT INTO reports_clientchange ({COLUMNS}) VALUES ({OLD}); END IF; RETURN NULL; END $$"
    )


def lock_in_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(function(LOCK))


def no_lock_in_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(function(""))


class Migration(migrations.Migration):
    dependencies = [("reports", "0007_client_changes")]

    operations = [migrations.RunPython(lock_in_trigger, no_lock_in_trigger)]
