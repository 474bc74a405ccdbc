"""Split validated rows three ways: quarantine (error rules), flags (warning and alert rules) and
alerts; and decide whether the export's rejected share passes its threshold."""
from __future__ import annotations

import json
import re

import duckdb

from transforms import sqlfiles
from transforms.pseudonymise import TOKEN_SPLIT, TOKEN_STRIP
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


# Values the quarantine keeps only reduced (macros.sql): a full ZIP and a birth date identify. Every
# other value is kept as it arrived but for what redact() finds in it (an email, SSN, phone, URL),
# words in a coded, number or date column (q_code) and, after the split, the patient ids inside it
# (transforms/free_text.py scrub_quarantine).
REDUCED = {"patients": {"zip": "q_zip", "birth_date": "q_birth", "birth_year": "q_birth"}}


def _value_sql(table: str, col: str, value: str) -> str:
    """A quarantined value as kept: REDUCED; redacted (macros.sql) in free text and ids; in any
    other column also withheld when it holds words (q_code: a name typed where a code belongs)."""
    from transforms.free_text import FREE_TEXT

    reduced = REDUCED.get(table, {}).get(col)
    if reduced:
        return f"{reduced}({value})"
    if col in FREE_TEXT.get(table, ()) or col.endswith("_id"):
        return f"redact({value})"
    return f"q_code({value})"


def protect_values(con: duckdb.DuckDBPyConnection, table: str, raw: dict) -> dict:
    """A malformed line's fields as the quarantine keeps them. Its column names cannot be trusted
    (a shifted field puts a birth date under `sex`), so every field, in any column and inside any
    value (a line an unclosed quote swallowed is one value), is reduced by its shape (q_shape:
    a date or birth year to the year, a ZIP to ZIP3); then redacted as _raw_row's values are."""
    cols = [c for c, v in raw.items() if isinstance(v, str) and not c.startswith("_") and c != "patient_id"]
    if not cols:
        return {}
    parts = {c: re.split(TOKEN_SPLIT, raw[c]) for c in cols}
    cores = sorted({p.strip(TOKEN_STRIP) for ps in parts.values() for p in ps[::2]} - {""})
    shaped = dict(zip(cores, con.execute("SELECT list_transform($1::VARCHAR[], v -> q_shape(v))", [cores]).fetchone()[0]))
    texts = []
    for c in cols:
        ps = parts[c]
        for i in range(0, len(ps), 2):
            core = ps[i].strip(TOKEN_STRIP)
            if core and shaped[core] != core:
                ps[i] = ps[i].replace(core, shaped[core])
        texts.append("".join(ps))
    exprs = ", ".join(f"redact(${i + 1}::VARCHAR)" for i in range(len(cols)))
    return dict(zip(cols, con.execute(f"SELECT {exprs}", texts).fetchone()))


def _raw_row(table: str) -> dict[str, str]:
    """SQL for the quarantined row's values: the contract's columns, patient_id as its key."""
    cols = TABLES[table].column_names
    parts = [f'"{c}" := ' + ("k.patient_key" if c == "patient_id" else _value_sql(table, c, f'r."{c}"'))
             for c in cols]
    join = "LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)" if "patient_id" in cols else ""
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
    """keys_<table>: every record key the export holds, valid or not (full exports withdraw the rest);
    unkeyed_<table>: how many rows hold a record whose key cannot be told (a blank required key
    column, or a typed one that did not parse)."""
    t = TABLES[table]
    key = list(t.key)
    have = {r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ?", [f"stg_{table}"]).fetchall()}
    unknown = []
    for c in key:
        if t.column("patient_id" if c == "patient_key" else c).required:
            unknown.append(f"{c} IS NULL")
        if f"{c}__unparsed" in have:
            unknown.append(f"coalesce({c}__unparsed, false)")
    sqlfiles.run(con, "transforms", "split/keys.sql", fragments={
        "key_cols": ", ".join(key), "key_first": key[0], "unknown_key": " OR ".join(unknown) or "false"}, table=table)


def can_withdraw(con: duckdb.DuckDBPyConnection, table: str, malformed: int) -> bool:
    """Whether a full export may withdraw the <table> records it does not hold: not when a
    malformed line or a row without a readable key may be one of them (warehouse/load.py skips it)."""
    return not malformed and not con.execute(f"SELECT n FROM unkeyed_{table}").fetchone()[0]


def listed_keys(con: duckdb.DuckDBPyConnection, table: str, deleted_table: str) -> int:
    """listed_<table>: the records of <table> the export says were deleted (the adapter's
    deleted_table), keyed as the warehouse keys them (patient ids pseudonymised by pk_map). Returns
    how many, companions aside (records withdrawn only if the warehouse has them, see listed.sql); an
    incremental export's load withdraws them (warehouse/sql/load/withdraw_listed.sql)."""
    key = list(TABLES[table].key)
    if len(key) != 1:
        raise ValueError(f"{table}: deletions are listed by a one-column key only")
    patient = key[0] == "patient_key"
    sqlfiles.run(con, "transforms", "split/listed.sql", table=table, deleted=deleted_table, fragments={
        "key_first": key[0], "key_expr": "k.patient_key" if patient else "txt(d.key)",
        "patient_join": "LEFT JOIN pk_map k ON k.patient_id = txt(d.key)" if patient else ""})
    return con.execute(f"SELECT count(*) FILTER (WHERE NOT companion) FROM listed_{table}").fetchone()[0]


def collect_malformed(con: duckdb.DuckDBPyConnection, table: str, malformed_table: str, source_file: str) -> int:
    """Malformed lines join the quarantine with rule <table>.row.malformed; ids pseudonymised."""
    # Every value's key, if its text (trimmed as staging trims it: txt()) is a patient's id: a
    # shifted field may carry an id into another column. Trimming here in Python instead once
    # missed an id that started with a tab (DuckDB's trim keeps tabs) and kept it raw. A patient's
    # = one of the export (pk_map) or one it may refer to (ctx_patients: the warehouse's current
    # patients too, whose ids only their keys can tell: pk_values holds every value's key).
    known = "SELECT patient_key FROM pk_map"
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'ctx_patients'").fetchone()[0]:
        known += " UNION SELECT patient_key FROM ctx_patients"
    ids = dict(con.execute(f"SELECT value, patient_key FROM pk_values WHERE patient_key IN ({known})").fetchall())
    keys = dict(con.execute(
        f'SELECT DISTINCT v, c.patient_key FROM (SELECT unnest(map_values("values")) AS v FROM {malformed_table}) '
        f"JOIN pk_values c ON c.value = txt(v) WHERE c.patient_key IN ({known})").fetchall())

    def keyed(v: str) -> str:
        """v with every field inside it that is a patient's id replaced by its key (a line an
        unclosed quote swallowed is one value holding many fields)."""
        if v in keys:
            return keys[v]
        parts = re.split(TOKEN_SPLIT, v)
        for i in range(0, len(parts), 2):
            core = parts[i].strip(TOKEN_STRIP)
            if core in ids:
                parts[i] = parts[i].replace(core, ids[core])
        return "".join(parts)

    rows = con.execute(
        f'SELECT _line, error, fields_found, fields_expected, "values" FROM {malformed_table} ORDER BY _line'
    ).fetchall()
    out = []
    for line, error, found, expected, values in rows:
        raw = {"_error": error, "_fields_found": found, "_fields_expected": expected}
        for k, v in dict(values or {}).items():
            if k == "patient_id":
                raw[k] = keys.get(v)  # its key, or nothing: never the id as it arrived
            else:
                raw[k] = keyed(v) if v is not None else None
        raw.update(protect_values(con, table, raw))
        out.append((table, source_file, line, f"{table}.row.malformed", json.dumps(raw)))
    if out:
        con.executemany("INSERT INTO q_rows VALUES (?, ?, ?, ?, ?)", out)
    return len(out)


def table_counts(con: duckdb.DuckDBPyConnection, table: str, read_rows: int, malformed: int) -> dict:
    quarantined = con.execute(f"SELECT count(*) FROM errors_{table}").fetchone()[0] + malformed
    loaded = con.execute(f"SELECT count(*) FROM out_{table}").fetchone()[0]
    # rows that loaded with a flag: a quarantined row's warnings and alerts are not a loaded row's
    warned = con.execute(f"SELECT count(*) FROM warn_{table} ANTI JOIN errors_{table} USING (_line)").fetchone()[0]
    out = {"read": read_rows, "loaded": loaded, "quarantined": quarantined, "malformed": malformed,
           "warned": warned}
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [f"unkeyed_{table}"]).fetchone()[0]:
        out["unkeyed"] = con.execute(f"SELECT n FROM unkeyed_{table}").fetchone()[0]
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [f"park_{table}"]).fetchone()[0]:
        parked = con.execute(f"SELECT count(*) FROM park_{table}").fetchone()[0]
        if parked:  # quarantined, but waiting for a parent, not bad (the load may load some at once)
            out["parked"] = parked
    return out


def over_threshold(counts: dict[str, dict], threshold: float) -> str | None:
    """The reason an export is rejected for its share of bad rows, or None. Rows parked for a
    missing parent are not bad: an export arriving before the one with their parents (out of
    order) would otherwise be rejected whole, its other rows with it."""
    worst = []
    for table, c in counts.items():
        bad = c["quarantined"] - c.get("parked", 0)
        if c["read"] and bad / c["read"] > threshold:
            worst.append(f"{table}: {bad} of {c['read']} rows rejected "
                         f"({bad / c['read']:.1%} > {threshold:.1%})")
    return "; ".join(worst) if worst else None
