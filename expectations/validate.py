"""Validate a whole export, table by table, parents first (see transforms/stage.py for why)."""
from __future__ import annotations

import duckdb

from expectations.runner import RuleResult, load_suite, validate_table
from transforms import stage
from transforms.tables import TABLE_ORDER


def validate_export(con: duckdb.DuckDBPyConnection, on_table_done=None) -> dict[str, list[RuleResult]]:
    """Stage, validate and conform every canonical table; the warehouse must be attached as wh.

    on_table_done(table) runs as soon as a table's verdicts are in, so its caller can collect
    what it needs and free the table's raw and staging rows before the next, larger table."""
    results: dict[str, list[RuleResult]] = {}
    for table in TABLE_ORDER:
        stage.ensure_raw(con, table)
        stage.stage_table(con, table)
        results[table] = validate_table(con, table, f"stg_{table}", load_suite(table)).results
        stage.conform_table(con, table)
        if on_table_done is not None:
            on_table_done(table)
    return results
