"""Staging: raw text -> typed rows the suites check (stg_*), and valid rows -> out_* for loading.

The tables are staged in TABLE_ORDER because children are checked against their parents: after
patients are validated, ctx_patients holds the patients later tables may refer to, and likewise
ctx_sessions after sessions.
"""
from __future__ import annotations

import duckdb

from transforms import sqlfiles
from transforms.read import drop_raw, raw_kinds
from transforms.tables import TABLES


def install_macros(con: duckdb.DuckDBPyConnection) -> None:
    sqlfiles.run(con, "transforms", "macros.sql")
    sqlfiles.run(con, "transforms", "work_tables.sql")


def ensure_raw(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """A table the export does not carry is staged as empty, so every later step is uniform."""
    if not raw_kinds(con, table):
        cols = ", ".join(f'"{c}" VARCHAR' for c in TABLES[table].column_names)
        con.execute(f"CREATE TEMP TABLE raw_{table} (_line BIGINT, {cols})")


# Record keys as staging types them (the typed CTE of each stg_<t>.sql), for the duplicate count.
# Patients are keyed by their pseudonym, counted in stg_patients.sql itself.
DUP_KEYS = {
    "sessions": {"session_id": "txt(session_id)"},
    "vitals": {"session_id": "txt(session_id)", "timepoint": "lower(txt(timepoint))",
               "minutes_after_dose": "as_int(minutes_after_dose)"},
    "assessments": {"assessment_id": "txt(assessment_id)"},
    "adverse_events": {"ae_id": "txt(ae_id)"},
    "labs": {"lab_id": "txt(lab_id)"},
}


def stage_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    keys = DUP_KEYS.get(table)
    if keys:
        sqlfiles.run(con, "transforms", "staging/duplicates.sql", table=table, fragments={
            "key_exprs": ", ".join(f"{expr} AS {name}" for name, expr in keys.items()),
            "key_names": ", ".join(keys), "key_first": next(iter(keys))})
    sqlfiles.run(con, "transforms", f"staging/stg_{table}.sql")


def mark_errors(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """errors_<t>: the lines that broke an error-level rule (from the validation verdicts)."""
    sqlfiles.run(con, "transforms", "split/errors.sql", table=table)


# Tables whose rows load as staged (no reshaping): their out_<t> is stg_<t> itself, without the
# quarantined rows and reduced to the contract's columns (patient_key for patient_id) in place.
# Copying 10M assessment rows into a new table cost ~4 s at the workspace's memory limit; deleting,
# dropping columns and renaming is free.
IN_PLACE = ("vitals", "assessments")


def out_columns(table: str) -> list[str]:
    return ["patient_key" if c == "patient_id" else c for c in TABLES[table].column_names] + ["_line"]


# Tables whose rows have a parent (a patient, or a session for vitals): a row quarantined only for
# its missing parent is kept as park_<t> and loads once the parent is current (warehouse/load.py).
PARKABLE = ("sessions", "vitals", "assessments", "adverse_events", "labs")


def conform_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """out_<t>: the rows that will load (and park_<t>: those waiting for their parent). For
    IN_PLACE tables out_<t> is stg_<t> itself, so stg_<t> is gone afterwards: read it before."""
    if table in PARKABLE:
        cols = ", ".join(f'"{c}"' for c in out_columns(table))
        some = con.execute(f"SELECT count(*) FROM parkable_{table}").fetchone()[0]  # usually none: no scan then
        con.execute(f"CREATE OR REPLACE TEMP TABLE park_{table} AS SELECT {cols} FROM stg_{table} "
                    + (f"WHERE _line IN (SELECT _line FROM parkable_{table})" if some else "LIMIT 0"))
    if table not in IN_PLACE:
        sqlfiles.run(con, "transforms", f"conform/out_{table}.sql")
    else:
        keep = out_columns(table)
        con.execute(f"DELETE FROM stg_{table} WHERE _line IN (SELECT _line FROM errors_{table})")
        have = [r[0] for r in con.execute(f"DESCRIBE stg_{table}").fetchall()]
        missing = set(keep) - set(have)
        if missing:
            raise RuntimeError(f"stg_{table} lacks {sorted(missing)}")
        for col in have:
            if col not in keep:
                con.execute(f'ALTER TABLE stg_{table} DROP COLUMN "{col}"')
        con.execute(f"DROP TABLE IF EXISTS out_{table}")
        con.execute(f"ALTER TABLE stg_{table} RENAME TO out_{table}")
    if table == "patients":
        sqlfiles.run(con, "transforms", "context/ctx_patients.sql")
    elif table == "sessions":
        sqlfiles.run(con, "transforms", "context/ctx_sessions.sql")


def release(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop a table's raw text and what is left of its staging rows once out_<t> exists."""
    drop_raw(con, table)
    con.execute(f"DROP TABLE IF EXISTS stg_{table}; DROP TABLE IF EXISTS dup_{table}")
