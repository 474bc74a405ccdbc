"""The publication ledger (ops.publications and ops.published_counts, migration 0004): every count
each recorded report showed, so that no later report shows a count whose difference from one
published before is 1..10 (export contract section 5: no count that can be derived from other
cells, and a reader may hold every report ever published, --as-of ones included).

What is compared: every count of a suppression cell and every complement n - k the cell declares,
by the cell's key (the same in every report month: a cumulative cell says 'cumulative', a month
row keeps its month) and the report's scope ('all' or one registry). A registry's counts are
compared with that registry's earlier reports and with the pooled ones, and the pooled counts with
every registry's: pooled minus one registry is the other registries' count. Two registries are not
compared with each other (their difference counts nothing). A count a report shows under another
scope's key too (the pooled report's total of one registry) is compared under both (aliases).
Counts of one report are not compared with each other: complementary suppression decides those.

One check before complementary suppression is enough: the cells it finds are forced hidden, and
suppress() only ever adds hidden cells, so every count finally shown passed the check; and each
value in the ledger passed it against everything recorded before it, so no two values of a key
recorded by different reports (in related scopes) differ by 1..10, in whatever order reports are
made.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from reports.suppression import HIGH, LOW, Cell

# (scope, cell id, count name) -> the values published for it
Published = dict[tuple[str, str, str], set[int]]


class LedgerConflict(RuntimeError):
    """Another report recorded a clashing count while this one was being made (run it again)."""


def cell_id(key: tuple) -> str:
    """The cell key as the ledger stores it: a JSON array (numpy scalars as plain numbers)."""
    return json.dumps([x.item() if hasattr(x, "item") else x for x in key], separators=(",", ":"))


def cell_values(cell: Cell) -> dict[str, int]:
    """The counts a shown cell gives away: its counts and its complements n - k (named 'n-k')."""
    out = {name: int(v) for name, v in cell.counts.items()}
    for n, k in cell.pairs:
        if n in cell.counts and k in cell.counts:
            out[f"{n}-{k}"] = int(cell.counts[n]) - int(cell.counts[k])
    return out


def index(rows: Iterable[tuple]) -> Published:
    """(scope, cell, count name, value) rows -> Published."""
    out: Published = {}
    for scope, cell, name, value in rows:
        out.setdefault((scope, cell, name), set()).add(int(value))
    return out


def compared_scopes(scope: str, published: Published) -> set[str]:
    """The scopes whose values a count of `scope` is compared with: its own and the pooled one; a pooled
    count is compared with every registry's."""
    if scope == "all":
        return {s for s, _, _ in published}
    return {scope, "all"}


def entries(cells: Iterable[Cell], scope: str, aliases: dict | None = None) -> dict[tuple[str, str, str], int]:
    """(scope, cell id, count name) -> value for every count of `cells` shown in a report of `scope`, also
    under each alias (scope, key) a cell has: the same count that another report shows under another
    key (the pooled report's total of one registry is that registry's own 'all groups' row)."""
    out = {}
    for c in cells:
        places = [(scope, c.key)] + list((aliases or {}).get(c.key, ()))
        for s, key in places:
            cid = cell_id(key)
            for name, v in cell_values(c).items():
                out[(s, cid, name)] = v
    return out


def clashes(values: dict[tuple[str, str, str], int], published: Published) -> set[tuple[str, str]]:
    """(scope, cell id) of the values whose difference from a value published for the same cell and
    count, in a compared scope, is 1..10 (a difference of 0, or above 10, reveals no small count)."""
    out = set()
    for (scope, cid, name), v in values.items():
        for s in compared_scopes(scope, published):
            if any(LOW <= abs(v - old) <= HIGH for old in published.get((s, cid, name), ())):
                out.add((scope, cid))
                break
    return out


def derivable(cells: Iterable[Cell], scope: str, published: Published, aliases: dict | None = None) -> set[tuple]:
    """Keys of the cells a report of `scope` must hide (primary suppression) because showing them would
    let a holder of an earlier report subtract a count of 1..10."""
    cells = list(cells)
    hit = clashes(entries(cells, scope, aliases), published)
    return {c.key for c in cells
            if any((s, cell_id(k)) in hit for s, k in [(scope, c.key)] + list((aliases or {}).get(c.key, ())))}


def shown_counts(cells: Iterable[Cell], hidden: set[tuple], scope: str,
                 aliases: dict | None = None) -> list[tuple[str, str, str, int]]:
    """(scope, cell id, count name, value) of every cell shown (and its aliases): what the report
    publishes. A shown cell's counts are all taken as published (those only in a rate's n are too),
    which can only hide more later. So are the counts of hidden cells that the shown ones determine
    (reports.derivation: a reader gets them by solving the report's groups), with the complements of
    those whose n and k are both determined."""
    from reports.derivation import determined_counts

    cells = list(cells)
    # a cell no figure shows (a nested difference) is published only where the shown ones determine it
    shown = [c for c in cells if c.key not in hidden and not c.unshown]
    derived = determined_counts(cells, hidden)
    solved = [Cell(c.key, {f: c.counts[f] for f in derived[c.key]}, [], c.pairs) for c in cells if c.key in derived]
    return [(*k, v) for k, v in entries(shown + solved, scope, aliases).items()]


def copy_published(con, catalog: str, scope: str) -> None:
    """Copy the warehouse's ledger (attached as `catalog`), as far as a report of `scope` is compared with
    it, into TEMP published_counts of `con` (none when
    the warehouse predates migration 0004). Done by the report's build while the warehouse is attached,
    so reading it costs no second open."""
    from transforms.sqlfiles import render
    from warehouse.migrate import has_table

    if has_table(con, "ops", "published_counts", catalog):
        con.execute("CREATE OR REPLACE TEMP TABLE published_counts AS " + render("warehouse", "ledger/published.sql",
                                                                                   ops=f"{catalog}.ops"), [scope, scope])


def read_published(con) -> Published:
    """The ledger copied by copy_published (empty when it was not copied)."""
    from transforms import sqlfiles
    from warehouse.migrate import has_table

    if not has_table(con, "main", "published_counts", "temp"):
        return {}
    return index(sqlfiles.run(con, "warehouse", "ledger/copied_published.sql").fetchall())


def record(warehouse: str | Path, report: dict, scope: str, counts: list[tuple[str, str, str, int]]) -> int:
    """Record a written report and its counts (one short write transaction, after the files exist);
    returns its report_id. Checks the counts again against the ledger as it is now: a report recorded
    meanwhile by another process with a clashing count raises LedgerConflict and records nothing.
    A warehouse older than migration 0004 gets it first. A busy warehouse is waited for
    (OUTCOMES_LOCK_TIMEOUT), then WarehouseBusy."""
    import duckdb
    import pandas as pd

    from transforms.sqlfiles import read_sql, render
    from warehouse.connect import retry_locked
    from warehouse.migrate import migrate

    p = str(warehouse)
    con = retry_locked(lambda: duckdb.connect(p), path=p)
    try:
        migrate(con)
        con.execute("BEGIN")
        try:
            now = index(con.execute(render("warehouse", "ledger/published.sql", ops="ops"), [scope, scope]).fetchall())
            late = clashes({(s, c, n): v for s, c, n, v in counts}, now)
            if late:
                raise LedgerConflict(f"another report was recorded while this one was made, and {len(late)} of its "
                                     "cells now differ from it by 1 to 10: generate this report again")
            report_id = con.execute(read_sql("warehouse", "ledger/record_report.sql"),
                                    [report["month"], scope, report.get("as_of_load"), report.get("last_load_id"),
                                     report["generated_at"], report["figures"], report["suppressed"],
                                     report.get("html"), report.get("code_version")]).fetchone()[0]
            shown = pd.DataFrame(counts, columns=["scope", "cell", "count_name", "value"]).astype({"value": "int64"})
            con.register("shown_counts", shown)
            con.execute(read_sql("warehouse", "ledger/record_counts.sql"), [report_id])
            con.unregister("shown_counts")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    return report_id
