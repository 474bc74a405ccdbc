"""Validate a whole export, table by table, parents first (see transforms/stage.py for why)."""
from __future__ import annotations

import duckdb

from expectations.runner import RuleResult, load_suite, validate_table
from transforms import free_text, split, stage
from transforms.tables import TABLE_ORDER


def validate_export(con: duckdb.DuckDBPyConnection, on_table_done=None) -> dict[str, list[RuleResult]]:
    """Stage, validate and conform every canonical table; the warehouse must be attached as wh.

    on_table_done(table) runs as soon as a table's verdicts are in (errors_<t> marked, raw_<t> and
    stg_<t> still there), so its caller can collect what it needs from them; then out_<t> is made
    (for the large tables out of stg_<t> itself) and the raw rows are freed before the next,
    larger table."""
    results: dict[str, list[RuleResult]] = {}
    free_text.mark_ids(con)  # patient ids in free text, replaced as each table is staged
    for table in TABLE_ORDER:
        stage.ensure_raw(con, table)
        stage.stage_table(con, table)
        results[table] = validate_table(con, table, f"stg_{table}", load_suite(table)).results
        stage.mark_errors(con, table)
        if on_table_done is not None:
            on_table_done(table)
        stage.conform_table(con, table)
        stage.release(con, table)
    return results


def validate_and_split(con: duckdb.DuckDBPyConnection, registry_id: str, exported_at, mode: str,
                       reads: dict) -> dict[str, list[RuleResult]]:
    """The ingest's validate step (flows/ingest.py), callable without Prefect: validate, and split
    each table as soon as its verdicts are in (quarantine, flags, alerts, the keys a full export
    holds), then free its raw and staging rows, so memory stays bounded by the largest table.
    reads: table -> its ReadResult (file, malformed lines); the warehouse must be attached as wh."""
    con.execute("SET VARIABLE registry_id = ?", [registry_id])
    con.execute("SET VARIABLE exported_at = ?", [exported_at.isoformat()])
    # the tables whose records not in this export it withdraws (context/ctx_*.sql)
    withdrawing = list(reads) if mode == "full" else []
    con.execute("SET VARIABLE withdrawing = ?::VARCHAR[]", [withdrawing])

    def done(table: str) -> None:
        r = reads.get(table)
        split.collect_table(con, table, r.file if r else None)
        if mode == "full" and r is not None:
            split.export_keys(con, table)
            if not split.can_withdraw(con, table, r.malformed):  # its current records stay in context
                withdrawing.remove(table)
                con.execute("SET VARIABLE withdrawing = ?::VARCHAR[]", [withdrawing])

    return validate_export(con, on_table_done=done)
