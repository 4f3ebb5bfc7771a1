"""PostgreSQL's COPY text format for prepared values, written in Python without the driver's
per-value dumpers: the import's client rows and the ledger's rows are mostly text, dates and
amounts, and a chunk's many repeated values are formatted once or not at all."""

from datetime import date, datetime
from decimal import Decimal

_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_text(value) -> str | None:
    """A prepared value as one field of COPY's text format, or None for a type not written
    here (the driver's row writer then writes the rows)."""
    if value is None:
        return "\\N"
    kind = type(value)
    if kind is str:
        return value.translate(_COPY_ESCAPES)
    if kind is bool:
        return "t" if value else "f"
    if kind is int or kind is Decimal:
        return str(value)
    if kind is datetime or kind is date:
        return value.isoformat()
    return None


_SPECIAL = ("\\", "\t", "\n", "\r")


def copy_column(values: list) -> list[str] | None:
    """One column's values as COPY text fields, a column at a time: a column of strings none of
    which needs an escape (looked for once, in the joined column) is its own text; dates and
    None without a type test per value. None if a value has no text form here."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        joined = "".join(values)
        if any(special in joined for special in _SPECIAL):
            return [value.translate(_COPY_ESCAPES) for value in values]
        return values
    if kinds <= {date, type(None)}:
        return ["\\N" if value is None else value.isoformat() for value in values]
    texts = [copy_text(value) for value in values]
    return None if None in texts else texts
