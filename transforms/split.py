"""Split validated rows three ways: quarantine (error rules), flags (warning and alert rules) and
alerts; and decide whether the export's rejected share passes its threshold."""
from __future__ import annotations

import json

import duckdb

from transforms import sqlfiles
from transforms.tables import TABLES

RECORD_COLUMN = {  # the column naming an alert's record; its patient is the row's patient_key
    "patients": "patient_key",
    "sessions": "session_id",
    "vitals": "session_id",
    "assessments": "assessment_id",
    "adverse_events": "ae_id",
    "labs": "lab_id",
}
# Vitals rows carry no patient: an alert's patient is its session's, looked up only for the alerts
# (carrying the 64-character key on every staged vitals row cost ~0.4 GB at 5M rows).
_SESSION_PATIENT = ("LEFT JOIN (SELECT session_id, any_value(patient_key) AS patient_key FROM ctx_sessions "
                    "GROUP BY session_id) sp ON sp.session_id = s.session_id")


def _raw_row(table: str) -> dict[str, str]:
    """SQL for the quarantined row's values: the contract's columns, patient_id as its key."""
    cols = TABLES[table].column_names
    parts = [f'"{c}" := ' + ("k.patient_key" if c == "patient_id" else f'r."{c}"') for c in cols]
    join = "LEFT JOIN pk_map k ON k.patient_id = trim(r.patient_id)" if "patient_id" in cols else ""
    return {"row_struct": "struct_pack(" + ", ".join(parts) + ")", "patient_join": join}


def collect_table(con: duckdb.DuckDBPyConnection, table: str, source_file: str | None) -> None:
    con.execute(f"SET VARIABLE source_file_{table} = ?", [source_file])
    sqlfiles.run(con, "transforms", "split/quarantine.sql", fragments=_raw_row(table), table=table)
    sqlfiles.run(con, "transforms", "split/warnings.sql", table=table)
    has_patient = "patient_id" in TABLES[table].column_names
    sqlfiles.run(con, "transforms", "split/alerts.sql", table=table, record=RECORD_COLUMN[table], fragments={
        "patient_sql": "s.patient_key" if has_patient else "sp.patient_key",
        "patient_join": "" if has_patient else _SESSION_PATIENT})


def export_keys(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """keys_<table>: every record key the export holds, valid or not (full exports withdraw the rest)."""
    key = list(TABLES[table].key)
    sqlfiles.run(con, "transforms", "split/keys.sql", fragments={"key_cols": ", ".join(key), "key_first": key[0]},
                 table=table)


def collect_malformed(con: duckdb.DuckDBPyConnection, table: str, malformed_table: str, source_file: str) -> int:
    """Malformed lines join the quarantine with rule <table>.row.malformed; ids pseudonymised."""
    keys = dict(con.execute("SELECT patient_id, patient_key FROM pk_map").fetchall())
    rows = con.execute(
        f'SELECT _line, error, fields_found, fields_expected, "values" FROM {malformed_table} ORDER BY _line'
    ).fetchall()
    out = []
    for line, error, found, expected, values in rows:
        raw = {"_error": error, "_fields_found": found, "_fields_expected": expected}
        if values:
            for k, v in dict(values).items():
                stripped = (v or "").strip()
                raw[k] = keys.get(stripped, v) if (k == "patient_id" or stripped in keys) else v
        out.append((table, source_file, line, f"{table}.row.malformed", json.dumps(raw)))
    if out:
        con.executemany("INSERT INTO q_rows VALUES (?, ?, ?, ?, ?)", out)
    return len(out)


def table_counts(con: duckdb.DuckDBPyConnection, table: str, read_rows: int, malformed: int) -> dict:
    quarantined = con.execute(f"SELECT count(*) FROM errors_{table}").fetchone()[0] + malformed
    loaded = con.execute(f"SELECT count(*) FROM out_{table}").fetchone()[0]
    warned = con.execute(f"SELECT count(*) FROM warn_{table}").fetchone()[0]
    return {"read": read_rows, "loaded": loaded, "quarantined": quarantined, "malformed": malformed,
            "warned": warned}


def over_threshold(counts: dict[str, dict], threshold: float) -> str | None:
    """The reason an export is rejected for its share of bad rows, or None."""
    worst = []
    for table, c in counts.items():
        if c["read"] and c["quarantined"] / c["read"] > threshold:
            worst.append(f"{table}: {c['quarantined']} of {c['read']} rows rejected "
                         f"({c['quarantined'] / c['read']:.1%} > {threshold:.1%})")
    return "; ".join(worst) if worst else None
