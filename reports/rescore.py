"""Incremental RFM rescoring: the scores of a night's changed buyers, and of the buyers whose
quintile moved, without ranking every buyer again — for the stored scores (`RfmScore`, from the
clients' cached figures: segment look-ups and the RFM table) and for the buyers' summaries
(`ClientPurchases`, from the kept purchases: the RFM history's current month).

R and M are quintiles of CUME_DIST (`reports.rfm`): a buyer's score is 1 + the number of
k in 1…4 with CUME_DIST > k/5, and CUME_DIST of a value v is (buyers with a value ≤ v) / N.
With the N values sorted, a₁ ≤ … ≤ a_N, "(buyers ≤ v) / N > k/5" holds exactly when
v ≥ a_p with p = ⌊kN/5⌋ + 1 (the integer form of the same comparison: for N below 10¹⁴ no
fraction c/N other than k/5 itself rounds to the double 0.k). So the scores are fixed by
four cut-off values per ranked column, a_p for k = 1…4, and

* a buyer whose value did not change keeps its score unless a cut-off moved across it:
  only the rows between an old and a new cut-off are rescored;
* the new cut-off is found from the old one: the kept state holds, per cut-off, its value
  and the number of buyers below it; the night's changed buyers (their old values, kept in a
  temporary table before their rows are rewritten, and their new ones) correct that number,
  and the new cut-off is the row `new position − buyers below the old cut-off` away from it,
  read through the index on the ranked column (an offset of a few thousand rows at most);
* "new" (first purchase in the last 30 days) moves with the day: the rows whose first
  purchase left the window are rescored too.

Recency is ranked by the last purchase's time, not by days since it, so a buyer who did not
buy keeps its place. The state (`ReportSnapshot.rfm_state`, one per table) is rebuilt after
a full scoring and carried only when the merchant's time zone, the day's order and the number of
stored rows agree with it; otherwise the caller scores every buyer again and says why in the
snapshot's timings (`rfm_store_mode`, `summary_scores_mode`). Like the rollup, a change that no
mark records (a deleted purchase, a cached figure edited by hand) waits for the full refresh.

The scored tables and how the statements read them (a table's rows, or some replaced) are
`reports.ranked`.
"""

from datetime import date, datetime
from decimal import Decimal

from django.db import connection

from onboarding.models import Merchant

from . import rfm_counts
from .ranked import Ranked

CUTS = (1, 2, 3, 4)


def _position(n: int, k: int) -> int:
    """1-based position in the ascending order of the value from which CUME_DIST > k/5."""
    return k * n // 5 + 1


def _encode(value):
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, Decimal):
        return {"dec": str(value)}
    return value


def _decode(value):
    if isinstance(value, dict) and "dt" in value:
        return datetime.fromisoformat(value["dt"])
    if isinstance(value, dict) and "dec" in value:
        return Decimal(value["dec"])
    return value


def score_case(cume_dist: str) -> str:
    """The quintile score (1…5) of a CUME_DIST expression: the one rule of R and M."""
    return (
        f"CASE WHEN {cume_dist} > 0.8 THEN 5 WHEN {cume_dist} > 0.6 THEN 4 "
        f"WHEN {cume_dist} > 0.4 THEN 3 WHEN {cume_dist} > 0.2 THEN 2 ELSE 1 END"
    )


def segment_case(*, f: str, r: str, m: str, first: str, new_since: str) -> str:
    """The named segment of a scored buyer (the rules of `reports.rfm`'s table): the one place
    they are written in SQL."""
    return (
        f"CASE WHEN {f} >= 3 AND {r} >= 4 AND {m} >= 4 THEN 'champions' "
        f"WHEN {f} >= 2 AND {r} >= 3 THEN 'loyal' WHEN {f} >= 2 THEN 'at_risk' "
        f"WHEN {first} >= {new_since} THEN 'new' WHEN {r} >= 3 THEN 'promising' "
        "ELSE 'lapsed' END"
    )


def _score_sql(column: str, cuts: list) -> tuple[str, list]:
    """`1 + (column ≥ cut₁) + … + (column ≥ cut₄)` and its parameters."""
    terms = " + ".join(f"CASE WHEN {column} >= %s THEN 1 ELSE 0 END" for _ in cuts)
    return f"(1 + {terms})", [_decode(value) for value, _below in cuts]


def _count(cursor, sql: str, params: list) -> int:
    cursor.execute(sql, params)
    return int(cursor.fetchone()[0])


def state_build(spec: Ranked, *, merchant: Merchant, today: date) -> dict:
    """The ranking state of the merchant's rows of `spec` as scored for `today` (after a full
    scoring): the number of buyers and, per ranked column, the four cut-offs with the number of
    buyers below each."""
    table, pk = spec.table, merchant.pk
    with connection.cursor() as cursor:
        n = _count(cursor, f"SELECT COUNT(*) FROM {table} WHERE merchant_id = %s", [pk])
        cuts: dict[str, list] = {}
        for score, column in spec.ranked.items():
            cuts[score] = []
            for k in CUTS if n else ():
                cursor.execute(
                    f"SELECT {column} FROM {table} WHERE merchant_id = %s "
                    f"ORDER BY {column} LIMIT 1 OFFSET %s",
                    [pk, _position(n, k) - 1],
                )
                value = cursor.fetchone()[0]
                below = _count(
                    cursor,
                    f"SELECT COUNT(*) FROM {table} WHERE merchant_id = %s AND {column} < %s",
                    [pk, value],
                )
                cuts[score].append([_encode(value), below])
        segments = _table_totals(cursor, spec, pk)
    return {
        "as_of": today.isoformat(),
        "zone": merchant.time_zone,
        "n": n,
        "cuts": cuts,
        "segments": segments,
    }


def _table_totals(cursor, spec: Ranked, pk: int) -> dict:
    """Every row's per-segment totals (`reports.rfm_counts`)."""
    return rfm_counts.totals(
        cursor,
        f"FROM {spec.table} WHERE merchant_id = %s",
        [pk],
        money=spec.money,
        freq=spec.freq,
    )


def stored_rows(cursor, table: str, merchant_id: int) -> int:
    """The merchant's rows in a scored table: on PostgreSQL as its triggers count them
    (migration reports 0011: one row read instead of every row counted), else counted."""
    if connection.vendor == "postgresql":
        cursor.execute(
            "SELECT COALESCE(SUM(n), 0) FROM reports_scored_rows "
            "WHERE merchant_id = %s AND table_name = %s",
            [merchant_id, table],
        )
        return int(cursor.fetchone()[0])
    return _count(cursor, f"SELECT COUNT(*) FROM {table} WHERE merchant_id = %s", [merchant_id])


def unusable(spec: Ranked, state: dict | None, merchant: Merchant, today: date) -> str | None:
    """Why the kept `state` cannot be carried to `today` (None when it can): missing, another
    time zone, a later day, or not the number of rows stored."""
    if not state or not state.get("cuts") or not state.get("n"):
        return "no kept state"
    if state.get("zone") != merchant.time_zone:
        return "time zone changed"
    if date.fromisoformat(state["as_of"]) > today:
        return "an earlier day"
    with connection.cursor() as cursor:
        stored = stored_rows(cursor, spec.table, merchant.pk)
    if stored != state["n"]:
        return "stored rows differ from the kept state"
    return None


def changed_keep(spec: Ranked, *, merchant: Merchant, clients_sql: str, params: list) -> None:
    """Before the rows of the changed clients (`clients_sql`: their ids) are rewritten: keep
    the ids and the rows' ranked figures in temporary tables for `rescore`."""
    with connection.cursor() as cursor:
        for temporary in (spec.changed, spec.old):
            cursor.execute(f"DROP TABLE IF EXISTS {temporary}")
        cursor.execute(f"CREATE TEMPORARY TABLE {spec.changed} AS {clients_sql}", params)
        cursor.execute(
            f"CREATE TEMPORARY TABLE {spec.old} AS SELECT client_id, last_at, {spec.money}, "
            f"r, m, segment, {spec.freq} AS f "
            f"FROM {spec.table} WHERE client_id IN (SELECT client_id FROM {spec.changed})"
        )
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {spec.changed}")
            cursor.execute(f"ANALYZE {spec.old}")


def _below(cursor, source: str, spec: Ranked, cuts: dict) -> dict:
    """{(score, k): rows of `source` below the k-th cut-off of `cuts`} in one pass."""
    terms, params, keys = [], [], []
    for score, column in spec.ranked.items():
        for k, (value, _below_count) in zip(CUTS, cuts[score], strict=True):
            terms.append(f"COALESCE(SUM(CASE WHEN {column} < %s THEN 1 ELSE 0 END), 0)")
            params.append(_decode(value))
            keys.append((score, k))
    cursor.execute(f"SELECT {', '.join(terms)} FROM {source}", params)
    return dict(zip(keys, (int(v) for v in cursor.fetchone()), strict=True))


def _new_cut(cursor, spec: Ranked, pk: int, column: str, old: list, k: int, n: int, moved: int):
    """The k-th cut-off of `column` over the rows as they now are, from the old one; `moved`:
    how many more rows are below the old cut-off now (the changed rows' new values in, their
    old ones out)."""
    rows = spec.rows
    value, below = _decode(old[0]), old[1] + moved
    position = _position(n, k)
    between = (
        f"SELECT COUNT(*) FROM {rows} AS t WHERE merchant_id = %s "
        f"AND {column} >= %s AND {column} < %s"
    )
    if below <= position - 1:  # at or above the old cut-off
        sql, params = spec.nth(column, ">=", "ASC")
        cursor.execute(sql, params(pk, value, position - 1 - below))
        found = cursor.fetchone()[0]
        below += _count(cursor, between, [pk, value, found])
    else:
        sql, params = spec.nth(column, "<", "DESC")
        cursor.execute(sql, params(pk, value, below - position))
        found = cursor.fetchone()[0]
        below -= _count(cursor, between, [pk, found, value])
    return [_encode(found), below]


def rescore(
    spec: Ranked,
    *,
    merchant: Merchant,
    today: date,
    state: dict,
    new_since,
    old_new_since,
    write: bool = True,
) -> tuple[dict, int] | str:
    """After `changed_keep` and the changed clients' rows rewritten with their new figures (the
    others untouched since `state` was built or carried): move the cut-offs, score the changed
    rows and rescore the rows a cut-off crossed and those whose first purchase lies between
    `old_new_since` and `new_since` (it left the "new" window, or entered it going back).
    Without `write` (a state carried back over replaced rows, `reports.rfm_history`) the new
    scores are only counted into the state's per-segment totals, not written to the rows. Returns
    (the new state, rows rescored), or why the state could not be carried (the caller scores
    every row then)."""
    table, pk, fresh, touched = spec.table, merchant.pk, f"{spec.prefix}_new", f"{spec.prefix}_rows"
    scored, rows = f"{spec.prefix}_scored", spec.rows
    if spec.replaced and (write or "segments" not in state):
        return "replaced rows are only counted, from a state with totals"
    with connection.cursor() as cursor:
        for temporary in (fresh, touched):
            cursor.execute(f"DROP TABLE IF EXISTS {temporary}")
        # the changed rows as they now are: read once (by primary key), then counted apart
        cursor.execute(
            f"CREATE TEMPORARY TABLE {fresh} AS SELECT client_id, last_at, {spec.money} "
            f"FROM ({spec.by_key(f'SELECT client_id FROM {spec.changed}')}) AS t"
        )
        old_rows = _count(cursor, f"SELECT COUNT(*) FROM {spec.old}", [])
        new_rows = _count(cursor, f"SELECT COUNT(*) FROM {fresh}", [])
        n = state["n"] - old_rows + new_rows
        if n <= 0:
            return "no buyers left"
        came, went = (_below(cursor, t, spec, state["cuts"]) for t in (fresh, spec.old))
        cuts = {
            score: [
                _new_cut(cursor, spec, pk, column, old, k, n, came[score, k] - went[score, k])
                for k, old in zip(CUTS, state["cuts"][score], strict=True)
            ]
            for score, column in spec.ranked.items()
        }
        # the rows to score: changed, crossed by a cut-off, or leaving "new" (index reads)
        parts, params = [f"SELECT client_id FROM {spec.changed}"], []
        for score, column in spec.ranked.items():
            for old, new in zip(state["cuts"][score], cuts[score], strict=True):
                if old[0] != new[0]:
                    a, b = _decode(old[0]), _decode(new[0])
                    for low, high in ((a, b), (b, a)):  # the one with low < high finds rows
                        parts.append(
                            f"SELECT client_id FROM {rows} AS t WHERE merchant_id = %s "
                            f"AND {column} >= %s AND {column} < %s"
                        )
                        params += [pk, low, high]
        parts.append(
            f"SELECT client_id FROM {rows} AS t WHERE merchant_id = %s "
            "AND first_at >= %s AND first_at < %s"
        )
        # forward a night the window leaves [old, new); carried back to an earlier day
        # (`reports.rfm_history`) the rows in [new, old) enter it
        params += [pk, *sorted([old_new_since, new_since])]
        cursor.execute(f"CREATE TEMPORARY TABLE {touched} AS {' UNION '.join(parts)}", params)
        r_sql, r_params = _score_sql("last_at", cuts["r"])
        m_sql, m_params = _score_sql(spec.money, cuts["m"])
        segment = segment_case(f="x.f", r="x.r", m="x.m", first="x.first_at", new_since="%s")
        # the rows whose scores or segment differ, with what they were: only those are written
        # (most crossed rows and many changed ones keep theirs)
        cursor.execute(f"DROP TABLE IF EXISTS {scored}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {scored} AS SELECT * FROM (SELECT client_id, money, f, "
            f"r, m, {segment} AS segment, old_r, old_m, old_segment FROM (SELECT client_id, "
            f"{spec.money} AS money, {spec.freq} AS f, first_at, {r_sql} AS r, {m_sql} AS m, "
            "r AS old_r, m AS old_m, segment AS old_segment "
            f"FROM ({spec.by_key(f'SELECT client_id FROM {touched}')}) AS t) AS x) AS y "
            "WHERE old_r IS NULL OR old_r <> r OR old_m <> m OR old_segment <> segment",
            [new_since, *r_params, *m_params],
        )
        write = write or "segments" not in state  # a state without totals counts the rows
        if write:
            cursor.execute(
                f"UPDATE {table} SET r = s.r, m = s.m, segment = s.segment FROM {scored} s "
                f"WHERE {table}.client_id = s.client_id"
            )
            written = cursor.rowcount
        else:
            written = _count(cursor, f"SELECT COUNT(*) FROM {scored}", [])
        if "segments" in state:  # carried: the changed rows now less as kept, the others'
            # rescored rows with their new scores less their old ones
            others = f"FROM {scored} WHERE client_id NOT IN (SELECT client_id FROM {spec.changed})"
            # from the few changed ids into the table by its key (as `fresh` above): written
            # as IN (…) PostgreSQL may hash-join the whole table against them
            changed_now = (
                f"SELECT client_id, {spec.money} AS money, {spec.freq} AS f, r, m, segment "
                f"FROM ({spec.by_key(f'SELECT DISTINCT client_id FROM {spec.changed}')}) AS t"
            )
            if not write:  # their new scores where they changed (in `scored`), else the rows'
                changed_now = (
                    "SELECT t.money, t.f, COALESCE(s.r, t.r) AS r, COALESCE(s.m, t.m) AS m, "
                    "COALESCE(s.segment, t.segment) AS segment "
                    f"FROM ({changed_now}) AS t LEFT JOIN {scored} s ON s.client_id = t.client_id"
                )
            came = [
                rfm_counts.totals(
                    cursor, f"FROM ({changed_now}) AS c", [], money="money", freq="f"
                ),
                rfm_counts.totals(cursor, others, [], money="money", freq="f"),
            ]
            went = [
                rfm_counts.totals(cursor, f"FROM {spec.old}", [], money=spec.money, freq="f"),
                rfm_counts.totals(cursor, others, [], money="money", freq="f", old=True),
            ]
            segments = rfm_counts.carried(state["segments"], came, went)
        else:  # a state kept before the totals were: summed once
            segments = _table_totals(cursor, spec, pk)
        for temporary in (spec.changed, spec.old, fresh, touched, scored):
            cursor.execute(f"DROP TABLE {temporary}")
    new_state = {
        "as_of": today.isoformat(),
        "zone": merchant.time_zone,
        "n": n,
        "cuts": cuts,
        "segments": segments,
    }
    return new_state, written


def rewrite_and_rescore(
    spec: Ranked,
    *,
    merchant: Merchant,
    today: date,
    state: dict,
    days: tuple,
    rewrite: list,
    write: bool = True,
) -> tuple[dict, int] | str:
    """After `changed_keep`: bring the changed clients' rows to their new figures with the
    statements `rewrite` ((SQL, parameters) each, in order), then `rescore` with `days` (its
    `new_since`, `old_new_since`) and `write`. Returns (the new state, rows written), or why
    the state cannot be carried."""
    written = 0
    with connection.cursor() as cursor:
        for statement in rewrite:
            cursor.execute(*statement)
            written += cursor.rowcount
    new_since, old_new_since = days
    result = rescore(
        spec,
        merchant=merchant,
        today=today,
        state=state,
        new_since=new_since,
        old_new_since=old_new_since,
        write=write,
    )
    if isinstance(result, str):
        return result
    return result[0], written + result[1]
