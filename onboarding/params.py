"""Parsing of query-string and form values that pages take from the user: a malformed or
absurd value is None (the page then ignores it or says so), never an exception."""

import datetime as dt

# Days outside this range are typos or probes; the date arithmetic of reports (local
# midnight, +1 day, month ends) overflows near year 1 and 9999.
MIN_DAY = dt.date(1900, 1, 1)
MAX_DAY = dt.date(2999, 12, 31)
MAX_ID = 2**63 - 1


def int_param(raw) -> int | None:
    """A positive database id from text, or None (`"²"`, `"1.5"`, `"-1"`, huge numbers)."""
    if raw is None:
        return None
    raw = str(raw).strip()
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


def day_param(raw) -> dt.date | None:
    """An ISO date (YYYY-MM-DD) within MIN_DAY..MAX_DAY, or None."""
    if raw is None:
        return None
    raw = str(raw).strip()
    if not raw.isascii():
        return None
    try:
        day = dt.date.fromisoformat(raw)
    except ValueError:
        return None
    return day if MIN_DAY <= day <= MAX_DAY else None
