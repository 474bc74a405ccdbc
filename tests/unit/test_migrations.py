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


def test_0009_remembers_the_records_full_exports_hold_parked_now(tmp_path):
    con = _warehouse_at(tmp_path / "w.duckdb", 8)
    for load_id, mode in ((1, "full"), (2, "incremental")):
        con.execute("INSERT INTO ops.loads (load_id, registry_id, export_id, mode, adapter, status, started_at, "
                    "finished_at) VALUES (?, 'r', ?, ?, 'kor', 'loaded', now(), now())", [load_id, f"e{load_id}", mode])
    lineage = "TIMESTAMPTZ '2025-01-31 23:00:00+00', now(), 'f.csv', 2"
    con.execute(f"INSERT INTO parked.sessions (registry_id, session_id, load_id, export_id, exported_at, loaded_at, "
                f"source_file, source_row) VALUES ('r', 'S1', 1, 'e1', {lineage}), ('r', 'S2', 2, 'e2', {lineage})")
    con.execute(f"INSERT INTO parked.vitals (registry_id, session_id, timepoint, minutes_after_dose, load_id, export_id, "
                f"exported_at, loaded_at, source_file, source_row) VALUES ('r', 'S1', 'post', 40, 1, 'e1', {lineage})")
    assert migrate(con) == [v for v, _ in migrations() if v > 8]
    assert con.execute("SELECT * FROM parked.sessions_held").fetchall() == [("r", "S1", 1)]
    assert con.execute("SELECT * FROM parked.vitals_held").fetchall() == [("r", "S1", "post", 40, 1)]
    for table in ("assessments", "adverse_events", "labs"):
        assert con.execute(f"SELECT count(*) FROM parked.{table}_held").fetchone() == (0,)
    con.close()


def test_0010_marks_alerts_raised_before_as_raised_by_loaded_rows(tmp_path):
    con = _warehouse_at(tmp_path / "w.duckdb", 9)
    con.execute("INSERT INTO ops.alerts VALUES (1, 'r', 'e1', 'vitals', 'S1', 'k', 'vitals.spo2.low', 'SpO2 below 92 %', "
                "now())")
    assert migrate(con) == [v for v, _ in migrations() if v > 9]
    assert con.execute("SELECT record_id, quarantined FROM ops.alerts").fetchall() == [("S1", False)]
    con.close()


def test_0011_withholds_birth_years_of_patients_90_or_older_at_the_export(tmp_path):
    """Loaded before the rule: P1 was 90 at the export (89 at enrolment) and kept 1935 and age 89.
    The export's year is the load's time zone's: 2025-01-01 03:00 UTC is still 2024 in New York,
    where P3 (born 1935) was 89."""
    con = _warehouse_at(tmp_path / "w.duckdb", 10)
    con.execute("INSERT INTO ops.loads (load_id, registry_id, adapter, status, started_at, finished_at, timezone) "
                "VALUES (1, 'r', 'kor', 'loaded', now(), now(), NULL), (2, 'r', 'kor', 'loaded', now(), now(), "
                "'America/New_York')")
    cols = "registry_id, patient_key, birth_year, age_at_enrolment, load_id, export_id, loaded_at, exported_at"
    for schema, op in (("core", ""), ("history", ", 'upsert'")):
        c = cols + (", op" if op else "")
        con.execute(f"INSERT INTO {schema}.patients ({c}) VALUES "
                    f"('r', 'P1', 1935, 89, 1, 'e1', now(), TIMESTAMPTZ '2025-06-30 23:00:00+00'{op}), "
                    f"('r', 'P2', 1936, 88, 1, 'e1', now(), TIMESTAMPTZ '2025-06-30 23:00:00+00'{op}), "
                    f"('r', 'P3', 1935, 88, 2, 'e2', now(), TIMESTAMPTZ '2025-01-01 03:00:00+00'{op}), "
                    f"('r', 'P4', NULL, 90, 1, 'e1', now(), TIMESTAMPTZ '2025-06-30 23:00:00+00'{op})")
    assert migrate(con) == [v for v, _ in migrations() if v > 10]
    for schema in ("core", "history"):
        assert con.execute(f"SELECT patient_key, birth_year, age_at_enrolment FROM {schema}.patients "
                           "ORDER BY 1").fetchall() == [
            ("P1", None, None), ("P2", 1936, 88), ("P3", 1935, 88), ("P4", None, 90)], schema
    con.close()
