"""Expressions the client table is indexed on, computed by the database itself."""

from django.db.models import Func, IntegerField, Q


class MonthDay(Func):
    """A date's month and day as one integer, month × 100 + day (31 December → 1231).

    Both backends compute it natively, so an index on it costs no call into Python per written
    row: on SQLite Django's `ExtractMonth`/`ExtractDay` call its Python date-extract function
    for every row an insert or update touches (twice, for an index on both). SQLite keeps a
    date as `YYYY-MM-DD` text, so there it is the text's month and day digits."""

    arity = 1
    output_field = IntegerField()

    def as_sql(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return (
            f"(CAST(EXTRACT(MONTH FROM {sql}) AS integer) * 100 "
            f"+ CAST(EXTRACT(DAY FROM {sql}) AS integer))",
            (*params, *params),
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"CAST(substr({sql}, 6, 2) || substr({sql}, 9, 2) AS integer)", (*params, *params)


BIRTHDAY_MD = "birthday_md"  # the alias `with_birthday_md` gives the clients' MonthDay


def with_birthday_md(clients):
    """Clients with their birthday's MonthDay as an alias: filter on
    `birthday_md_q(...)` and the daily run's selection is a look-up of `client_birthday_md`."""
    return clients.alias(**{BIRTHDAY_MD: MonthDay("birthday")})


def birthday_md_q(days) -> Q:
    """Clients (aliased by `with_birthday_md`) born on any of these (month, day) pairs."""
    wanted = sorted({month * 100 + day for month, day in days})
    return Q(birthday__isnull=False, **{f"{BIRTHDAY_MD}__in": wanted})
