"""Per-segment totals of a scored table (`reports.rescore`'s stored scores and buyers'
summaries), kept with its ranking state and carried from night to night as differences.

A segment's totals are [buyers, money, sum of R, sum of F, sum of M] (money as a string of
cents): the RFM table (`reports.rfm.segment_summary`) and the RFM history's counts read them
instead of grouping every row. A full scoring sums them from every row (`table_totals`); a
carried one adds the rows it rescored as they now are and takes away what the same rows were
before (`carried`): the changed clients' rows now less their old rows (kept before they were
rewritten), and the other rows whose scores changed with their new scores less their old ones.
"""

from decimal import Decimal

from onboarding.money import q


def totals(
    cursor, source: str, params: list, *, money: str, freq: str, old: bool = False
) -> dict[str, list]:
    """{segment: totals} of the rows of `source` (SQL after SELECT …, with its parameters);
    with `old`, of their `old_segment`, `old_r` and `old_m` instead."""
    was = "old_" if old else ""
    cursor.execute(
        f"SELECT {was}segment, COUNT(*), COALESCE(SUM({money}), 0), COALESCE(SUM({was}r), 0), "
        f"COALESCE(SUM({freq}), 0), COALESCE(SUM({was}m), 0) {source} GROUP BY {was}segment",
        params,
    )
    return {
        segment: [int(n), str(q(Decimal(str(spent)))), int(r), int(f), int(m)]
        for segment, n, spent, r, f, m in cursor.fetchall()
    }


def carried(kept: dict, came: list[dict], went: list[dict]) -> dict[str, list]:
    """`kept` with each of the totals `came` added and each of `went` taken away; a segment
    left without buyers is dropped (as a full count has none)."""
    out = {segment: list(row) for segment, row in kept.items()}
    for sign, parts in ((1, came), (-1, went)):
        for part in parts:
            for segment, row in part.items():
                into = out.setdefault(segment, [0, "0.00", 0, 0, 0])
                into[0] += sign * row[0]
                into[1] = str(q(Decimal(into[1]) + sign * Decimal(row[1])))
                for i in (2, 3, 4):
                    into[i] += sign * row[i]
    return {segment: row for segment, row in out.items() if row[0]}


def summary_rows(segments: dict[str, list]) -> dict:
    """{segment: (buyers, money, avg R, avg F, avg M)}, as `reports.rfm.stored_summary_rows`."""
    return {
        segment: (n, Decimal(spent), r / n, f / n, m / n)
        for segment, (n, spent, r, f, m) in segments.items()
    }
