"""Validate a whole export, table by table, parents first (see transforms/stage.py for why)."""
from __future__ import annotations

import duckdb

from expectations.runner import RuleResult, load_suite, validate_table
from transforms import stage
from transforms.tables import TABLE_ORDER


def validate_export(con: duckdb.DuckDBPyConnection, progress=None) -> dict[str, list[RuleResult]]:
    """Stage, validate and conform every canonical table; the warehouse must be attached as wh."""
    results: dict[str, list[RuleResult]] = {}
    for table in TABLE_ORDER:
        stage.ensure_raw(con, table)
        stage.stage_table(con, table)
        results[table] = validate_table(con, table, f"stg_{table}", load_suite(table)).results
        stage.conform_table(con, table)
        if progress is not None:
            progress(table)
    return results
