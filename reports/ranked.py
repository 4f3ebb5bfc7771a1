"""The scored tables of `reports.rescore`: the stored scores (`RfmScore`, from the clients'
cached figures) and the buyers' summaries (`ClientPurchases`, from the kept purchases), with
the SQL the rescoring reads their rows through — the table itself, or the table with some
clients' rows replaced by a temporary table's (a month's end carried back without writing a
row, `reports.rfm_history`)."""

from collections.abc import Callable
from dataclasses import dataclass

from .models import ClientPurchases, RfmScore


@dataclass(frozen=True)
class Ranked:
    """A table of scored buyers: one row per buyer with its ranked figures (`last_at`, the
    money column), `first_at`, its frequency (SQL over `figures`, its own figure columns) and
    the stored `r`, `m` and `segment`. With `replaced` (a temporary table of the same columns
    and `kept`, as `reports.rfm_history` builds for a month's end) the statements read its rows
    in place of the table's rows of the same clients, leaving out those not kept — the table as
    of another day, unwritten."""

    table: str
    money: str
    freq: str
    prefix: str
    figures: str
    replaced: str = ""

    @property
    def ranked(self) -> dict[str, str]:
        """score letter -> ranked column"""
        return {"r": "last_at", "m": self.money}

    @property
    def changed(self) -> str:
        return f"{self.prefix}_changed"

    @property
    def old(self) -> str:
        return f"{self.prefix}_old"

    @property
    def columns(self) -> list[str]:
        figures = self.figures.split(", ")
        return ["client_id", "merchant_id", *figures, "first_at", "last_at", "r", "m", "segment"]

    @property
    def rows(self) -> str:
        """The rows as the statements read them, for `FROM … AS t`: the table, or a union of
        its rows not replaced and the replacements (each side reads its own indexes)."""
        if not self.replaced:
            return self.table
        columns = ", ".join(self.columns)
        return (
            f"(SELECT {columns} FROM {self.table} WHERE {self._not_replaced()} "
            f"UNION ALL SELECT {columns} FROM {self.replaced} WHERE kept = 1)"
        )

    def by_key(self, ids: str) -> str:
        """SELECT of the rows of the clients `ids` (SQL of one distinct `client_id` column),
        each read by its key (the replaced clients taken out of the ids first: a filter on the
        table's side would hide from the planner how few rows it looks up)."""
        columns = ", ".join(f"t.{column}" for column in self.columns)
        if not self.replaced:
            return (
                f"SELECT {columns} FROM ({ids}) AS c "
                f"JOIN {self.table} t ON t.client_id = c.client_id"
            )
        kept = (
            f"SELECT client_id FROM ({ids}) AS x WHERE NOT EXISTS "
            f"(SELECT 1 FROM {self.replaced} r WHERE r.client_id = x.client_id)"
        )
        return (
            f"SELECT {columns} FROM ({kept}) AS c JOIN {self.table} t "
            f"ON t.client_id = c.client_id UNION ALL SELECT {columns} FROM ({ids}) AS c "
            f"JOIN {self.replaced} t ON t.client_id = c.client_id WHERE t.kept = 1"
        )

    def nth(self, column: str, op: str, order: str) -> tuple[str, Callable[..., list]]:
        """SELECT of the value of `column` at an offset among the merchant's rows with
        `column {op} value`, in `order` (ASC or DESC) through its index, and a function of
        (merchant id, value, offset) giving its parameters. With replacements each side is
        cut at the offset first: a union of two ordered reads, not a sort of every row."""
        where = f"merchant_id = %s AND {column} {op} %s"
        if not self.replaced:
            sql = f"SELECT {column} FROM {self.table} WHERE {where} ORDER BY {column} {order}"
            return f"{sql} LIMIT 1 OFFSET %s", lambda pk, value, offset: [pk, value, offset]
        table = (
            f"SELECT {column} FROM {self.table} WHERE {where} AND {self._not_replaced()} "
            f"ORDER BY {column} {order} LIMIT %s"
        )
        sql = (
            f"SELECT {column} FROM (SELECT * FROM ({table}) AS a UNION ALL SELECT {column} "
            f"FROM {self.replaced} WHERE {where} AND kept = 1) AS u "
            f"ORDER BY {column} {order} LIMIT 1 OFFSET %s"
        )
        return sql, lambda pk, value, offset: [pk, value, offset + 1, pk, value, offset]

    def _not_replaced(self) -> str:
        return f"client_id NOT IN (SELECT client_id FROM {self.replaced})"


# the stored scores (the clients' cached figures) and the buyers' summaries (the RFM history)
SCORES = Ranked(RfmScore._meta.db_table, "total_spent", "f", "reports_rfm", "f, total_spent")
SUMMARIES = Ranked(
    ClientPurchases._meta.db_table,
    "revenue",
    "CASE WHEN purchases >= 5 THEN 5 ELSE purchases END",
    "reports_cp",
    "purchases, revenue",
)
