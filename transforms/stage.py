"""Staging: raw text -> typed rows the suites check (stg_*), and valid rows -> out_* for loading.

The tables are staged in TABLE_ORDER because children are checked against their parents: after
patients are validated, ctx_patients holds the patients later tables may refer to, and likewise
ctx_sessions after sessions.
"""
from __future__ import annotations

import duckdb

from transforms import sqlfiles
from transforms.tables import TABLES


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    sqlfiles.run(con, "transforms", "macros.sql")
    sqlfiles.run(con, "transforms", "work_tables.sql")


def ensure_raw(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A table the export does not carry is staged as empty, so every later step is uniform."""
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?", [f"raw_{table}"]
    ).fetchone()[0]
    if not exists:
        cols = ", ".join(f'"{c}" VARCHAR' for c in TABLES[table].column_names)
        con.execute(f"CREATE TEMP TABLE raw_{table} (_line BIGINT, {cols})")


def stage_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    sqlfiles.run(con, "transforms", f"staging/stg_{table}.sql")


def conform_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """errors_<t> from the validation verdicts, then out_<t>: the rows that will load."""
    sqlfiles.run(con, "transforms", "split/errors.sql", table=table)
    sqlfiles.run(con, "transforms", f"conform/out_{table}.sql")
    if table == "patients":
        sqlfiles.run(con, "transforms", "context/ctx_patients.sql")
    elif table == "sessions":
        sqlfiles.run(con, "transforms", "context/ctx_sessions.sql")
