"""The `src_*` views every mart model reads, so a model never knows which state it is built from.

Two states exist: the current one (core.*) and the warehouse as it stood after load L (rebuilt
from history.*: latest version per record by exported_at, ties by load_id, among rows with
load_id <= L; a withdrawal removes the record). A cutoff (exclusive) drops events dated on or after
it, which is how a monthly report sees "cumulative through that month"; a patient is kept if
enrolled before the cutoff or with a session before it (sessions may precede enrolment by 30 days).

Local calendar: a registry's sessions and assessments are seen at their wall-clock time in its
time zone (ops.loads.timezone of its latest load; none or UTC: unchanged), written as if it were
UTC. Every date, month and day count the marts take from them (utc_date, utc_month) is then the
registry's own, and one cutoff (the month's end at midnight) is each registry's local midnight,
pooled reports included. Elapsed time (hours to response, the 14-day baseline window) is
taken on the instant, kept beside it as `<column>_instant`, so a daylight-saving change between
two events does not count.

Everything a month's report includes is chosen by data time, never by when a load ran: records by
their own event date (DATED), loads and their quarantined rows by the export's exported_at (the
month's closing export, exported at month end and loaded on the 1st, belongs to that month), and
alerts by the event time of the record they were raised on (dated in int_flags). --as-of L
(as_of_load) still decides which loads exist at all: the warehouse as it stood after load L.
"""
from __future__ import annotations

from datetime import datetime

import duckdb

# Record keys within a registry (mirrors transforms/tables.py; kept here so a build only reads).
KEYS = {
    "patients": ("patient_key",),
    "sessions": ("session_id",),
    "vitals": ("session_id", "timepoint", "minutes_after_dose"),
    "assessments": ("assessment_id",),
    "adverse_events": ("ae_id",),
    "labs": ("lab_id",),
}
# The column that dates each record, for the cutoff.
DATED = {"patients": "enrolled_on", "sessions": "session_start", "assessments": "assessed_at",
         "adverse_events": "onset_date", "labs": "collected_on"}
# The instants (TIMESTAMPTZ) among them; the others are calendar dates as the registry wrote them.
INSTANTS = {"sessions": "session_start", "assessments": "assessed_at"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value) -> str:
    """A SQL literal for None, an int or a str (quotes doubled, DuckDB's only escape in a string).

    Why not a bound parameter: DuckDB's Python client imports numpy and pandas the first time it
    binds an int or a str parameter (~0.3 s), and a report imports those in a thread while the SQL
    runs (reports.report): a bound parameter before the first model would make the SQL wait."""
    if value is None:
        return "NULL"
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"no SQL literal for {type(value).__name__}")
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("'", "''") + "'"


def registry_zones(con: duckdb.DuckDBPyConnection, catalog: str = "", as_of_load: int | None = None) -> dict[str, str]:
    """registry -> IANA zone, for registries whose latest loaded export (up to --as-of) was read in a
    zone other than UTC. Empty for a warehouse from before migration 0005."""
    pre = f"{catalog}." if catalog else ""
    if not con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'ops' AND table_name = 'loads' "
            "AND column_name = 'timezone'" + (f" AND database_name = {sql_literal(catalog)}" if catalog else "")
    ).fetchone()[0]:
        return {}
    rows = con.execute(
        f"SELECT registry_id, arg_max(timezone, load_id) FROM {pre}ops.loads WHERE status = 'loaded' "
        f"AND timezone IS NOT NULL AND ({sql_literal(as_of_load)} IS NULL OR load_id <= {sql_literal(as_of_load)}) "
        "GROUP BY registry_id").fetchall()
    return {r: z for r, z in rows if z not in ("UTC", "Etc/UTC", "GMT", "Etc/GMT")}


def create_sources(con: duckdb.DuckDBPyConnection, catalog: str = "", as_of_load: int | None = None,
                   cutoff: datetime | None = None, registry: str | None = None) -> None:
    """Create TEMP views src_<table>, src_loads, src_quarantine, src_alerts on `con`.

    catalog: '' when con is the warehouse itself, else the alias it is attached under. Values go in
    as DuckDB variables (set from quoted literals, sql_literal), never into the views' SQL text.
    """
    pre = f"{catalog}." if catalog else ""
    con.execute(f"SET VARIABLE as_of_load = {sql_literal(as_of_load)}")
    con.execute(f"SET VARIABLE cutoff = {sql_literal(cutoff.isoformat() if cutoff else None)}::TIMESTAMPTZ")
    con.execute(f"SET VARIABLE registry = {sql_literal(registry)}")
    reg = "(getvariable('registry') IS NULL OR registry_id = getvariable('registry'))"
    zones = registry_zones(con, catalog, as_of_load)
    if zones:
        con.execute("SET VARIABLE registry_tz = MAP {"
                    + ", ".join(f"{sql_literal(r)}: {sql_literal(z)}" for r, z in sorted(zones.items())) + "}")
    views = {r[0] for r in con.execute(
        "SELECT view_name FROM duckdb_views() WHERE schema_name = 'history'"
        + (f" AND database_name = {sql_literal(catalog)}" if catalog else "")).fetchall()}
    # sessions before patients: a patient's cut-off looks at its sessions (below)
    for table in sorted(KEYS, key=lambda t: t == "patients"):
        key = KEYS[table]
        # Migration 0002 keeps current versions only in core.*; history.<t>_versions is all of them.
        hist = f"{table}_versions" if f"{table}_versions" in views else table
        if as_of_load is None:
            body = f"SELECT * FROM {pre}core.{table} WHERE {reg}"
        else:
            part = ", ".join(["registry_id", *key])
            latest = (f"SELECT * FROM {pre}history.{hist} "
                      f"WHERE load_id <= getvariable('as_of_load') AND {reg} "
                      f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1")
            body = f"SELECT * EXCLUDE (op) FROM ({latest}) WHERE op = 'upsert'"
        if table in INSTANTS:
            c = INSTANTS[table]
            # the instant itself stays beside the wall-clock value: elapsed time is taken on it
            body = f"SELECT *, {c} AS {c}_instant FROM ({body})"
        if zones and table in INSTANTS:
            body = (f"SELECT * REPLACE (CASE WHEN getvariable('registry_tz')[registry_id] IS NULL THEN {c} "
                    f"ELSE timezone('UTC', timezone(getvariable('registry_tz')[registry_id], {c})) END AS {c}) "
                    f"FROM ({body})")
        col = DATED.get(table)
        if table == "patients":
            # a patient exists by the cut-off if enrolled or treated by then: the contract allows
            # sessions from enrolled_on - 30 days, so one enrolled after the cut-off may have sessions
            # before it, and its site (int_patient_keys) must not become 'unknown'. Such sessions
            # start at most 30 days before the cut-off: only those are looked at (a scan of the
            # last 30 days of sessions, not a second pass over all of them)
            body = (f"SELECT * FROM ({body}) WHERE getvariable('cutoff') IS NULL OR {col} < getvariable('cutoff') "
                    f"OR (registry_id, patient_key) IN (SELECT registry_id, patient_key FROM src_sessions "
                    f"WHERE session_start >= getvariable('cutoff') - INTERVAL 30 DAY)")
        elif col:
            body = f"SELECT * FROM ({body}) WHERE getvariable('cutoff') IS NULL OR {col} < getvariable('cutoff')"
        con.execute(f"CREATE OR REPLACE TEMP VIEW src_{table} AS {body}")
    load_filter = "(getvariable('as_of_load') IS NULL OR load_id <= getvariable('as_of_load'))"
    # data_month_at: the export's data time (exported_at; a load without one, e.g. a rejected
    # manifest, falls back to when it started). started_at is wall-clock time and is never compared
    # with the cutoff, which is a data date.
    con.execute(f"CREATE OR REPLACE TEMP VIEW src_loads AS SELECT *, coalesce(exported_at, started_at) AS data_at "
                f"FROM {pre}ops.loads WHERE {load_filter} AND {reg} "
                f"AND (getvariable('cutoff') IS NULL OR coalesce(exported_at, started_at) < getvariable('cutoff'))")
    con.execute(f"CREATE OR REPLACE TEMP VIEW src_quarantine AS SELECT q.*, l.data_at FROM {pre}ops.quarantine q "
                f"JOIN src_loads l USING (load_id)")
    # Alerts of every load up to --as-of, whenever raised: each is dated (and cut off) by its
    # record's own event time where the marts use it (int_flags), not by raised_at.
    con.execute(f"CREATE OR REPLACE TEMP VIEW src_alerts AS SELECT a.* FROM {pre}ops.alerts a "
                f"WHERE a.load_id IN (SELECT load_id FROM {pre}ops.loads WHERE {load_filter} AND {reg})")
