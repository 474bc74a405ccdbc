"""Migrations that change rows, on a warehouse as the code before them left it."""
from __future__ import annotations

import duckdb

from warehouse.migrate import migrate, migrations


def _warehouse_at(path, version: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA ops")
    con.execute("CREATE TABLE ops.schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT current_timestamp)")
    for v, p in migrations():
        if v <= version:
            con.execute(p.read_text())
            con.execute("INSERT INTO ops.schema_migrations (version, name) VALUES (?, ?)", [v, p.name])
    return con


def test_0008_takes_session_reference_warnings_off_rows_loaded_before(tmp_path):
    con = _warehouse_at(tmp_path / "w.duckdb", 7)
    lineage = "1, 'e1', TIMESTAMPTZ '2025-01-31 23:00:00+00', now(), 'f.csv', 2"
    for schema in ("core", "history", "parked"):
        op = ", 'upsert'" if schema == "history" else ""
        cols = ("registry_id, assessment_id, load_id, export_id, exported_at, loaded_at, source_file, source_row, "
                "warnings" + (", op" if op else ""))
        con.execute(f"INSERT INTO {schema}.assessments ({cols}) VALUES "
                    f"('r', 'A1', {lineage}, ['assessments.session_id.exists']{op}), "
                    f"('r', 'A2', {lineage}, ['assessments.phq9_item9.positive', 'assessments.session_id.exists']{op}), "
                    f"('r', 'A3', {lineage}, ['assessments.phq9_item9.positive']{op}), "
                    f"('r', 'A4', {lineage}, NULL{op})")
        cols = cols.replace("assessment_id", "ae_id")
        con.execute(f"INSERT INTO {schema}.adverse_events ({cols}) VALUES "
                    f"('r', 'E1', {lineage}, ['adverse_events.session_id.exists', 'adverse_events.term.identifier']{op})")
    assert migrate(con) == [v for v, _ in migrations() if v > 7]
    for schema in ("core", "history", "parked"):
        assert con.execute(f"SELECT assessment_id, warnings FROM {schema}.assessments ORDER BY 1").fetchall() == [
            ("A1", None), ("A2", ["assessments.phq9_item9.positive"]), ("A3", ["assessments.phq9_item9.positive"]),
            ("A4", None)], schema
        assert con.execute(f"SELECT warnings FROM {schema}.adverse_events").fetchall() == [
            (["adverse_events.term.identifier"],)], schema
    con.close()
