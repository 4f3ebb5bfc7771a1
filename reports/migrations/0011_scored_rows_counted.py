"""The scored tables' rows counted per merchant by triggers (PostgreSQL).

Before a night carries the kept RFM ranking (`reports.rescore.unusable`) it checks that the
stored rows are as many as the ranking counted: a row lost outside the refresh (a cascaded
deletion) would make the carried cut-offs wrong. Counting 500 000 rows took 0.1–0.2 s a table
each night. Here statement triggers keep the count as rows are inserted and deleted (any
statement, the refresh's or another's, a COPY too), so the check reads one row. An update does
not move a row to another merchant (nothing does); a TRUNCATE clears the table's counts.
SQLite keeps counting the rows."""

from django.db import migrations

TABLES = ("reports_rfmscore", "reports_clientpurchases")
CREATE = [
    "CREATE TABLE reports_scored_rows (merchant_id bigint NOT NULL, table_name text NOT NULL, "
    "n bigint NOT NULL, PRIMARY KEY (merchant_id, table_name))",
    "CREATE FUNCTION reports_scored_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO reports_scored_rows (merchant_id, table_name, n) "
    "SELECT merchant_id, TG_TABLE_NAME, count(*) FROM added GROUP BY merchant_id "
    "ON CONFLICT (merchant_id, table_name) DO UPDATE SET n = reports_scored_rows.n + EXCLUDED.n; "
    "RETURN NULL; END $$",
    "CREATE FUNCTION reports_scored_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "UPDATE reports_scored_rows s SET n = s.n - d.n FROM (SELECT merchant_id, count(*) AS n "
    "FROM removed GROUP BY merchant_id) d "
    "WHERE s.merchant_id = d.merchant_id AND s.table_name = TG_TABLE_NAME; RETURN NULL; END $$",
    "CREATE FUNCTION reports_scored_rows_cleared() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "DELETE FROM reports_scored_rows WHERE table_name = TG_TABLE_NAME; RETURN NULL; END $$",
]
for table in TABLES:
    CREATE += [
        # no writer between the count and the triggers (the migration's transaction holds it)
        f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE",
        f"INSERT INTO reports_scored_rows (merchant_id, table_name, n) "
        f"SELECT merchant_id, '{table}', count(*) FROM {table} GROUP BY merchant_id",
        f"CREATE TRIGGER {table}_added AFTER INSERT ON {table} REFERENCING NEW TABLE AS added "
        "FOR EACH STATEMENT EXECUTE FUNCTION reports_scored_rows_added()",
        f"CREATE TRIGGER {table}_removed AFTER DELETE ON {table} REFERENCING OLD TABLE AS removed "
        "FOR EACH STATEMENT EXECUTE FUNCTION reports_scored_rows_removed()",
        f"CREATE TRIGGER {table}_cleared AFTER TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION reports_scored_rows_cleared()",
    ]
DROP = [
    *(
        f"DROP TRIGGER IF EXISTS {table}_{event} ON {table}"
        for table in TABLES
        for event in ("added", "removed", "cleared")
    ),
    "DROP FUNCTION IF EXISTS reports_scored_rows_added()",
    "DROP FUNCTION IF EXISTS reports_scored_rows_removed()",
    "DROP FUNCTION IF EXISTS reports_scored_rows_cleared()",
    "DROP TABLE IF EXISTS reports_scored_rows",
]


def run(statements):
    def operation(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for sql in statements:
            schema_editor.execute(sql)

    return operation


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0010_partner_rows_to_mark"),
    ]

    operations = [migrations.RunPython(run(CREATE), run(DROP))]
