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

from transforms import sqlfiles

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


def _table(catalog: str, name: str) -> str:
    return f"{catalog}.{name}" if catalog else name


def _set_variables(con: duckdb.DuckDBPyConnection, catalog: str, as_of_load: int | None, **more: str) -> None:
    con.execute(f"SET VARIABLE source_catalog = {sql_literal(catalog or None)}::VARCHAR")
    con.execute(f"SET VARIABLE as_of_load = {sql_literal(as_of_load)}::BIGINT")
    for name, literal in more.items():
        con.execute(f"SET VARIABLE {name} = {literal}")


def registry_zones(con: duckdb.DuckDBPyConnection, catalog: str = "", as_of_load: int | None = None) -> dict[str, str]:
    """registry -> IANA zone, for registries whose latest loaded export (up to --as-of) was read in a
    zone other than UTC. Empty for a warehouse from before migration 0005."""
    _set_variables(con, catalog, as_of_load)
    return _zones(con, catalog)


def _zones(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, str]:
    """registry_zones, with the variables source_catalog and as_of_load already set."""
    if not sqlfiles.run(con, "warehouse", "sources/loads_have_timezone.sql").fetchone()[0]:
        return {}
    rows = sqlfiles.run(con, "warehouse", "sources/registry_zones.sql",
                        loads_table=_table(catalog, "ops.loads")).fetchall()
    return {r: z for r, z in rows if z not in ("UTC", "Etc/UTC", "GMT", "Etc/GMT")}


def create_sources(con: duckdb.DuckDBPyConnection, catalog: str = "", as_of_load: int | None = None,
                   cutoff: datetime | None = None, registry: str | None = None) -> None:
    """Create TEMP views src_<table>, src_loads, src_data_ends, src_quarantine, src_alerts on `con`, each layered
    from warehouse/sql/sources/.

    catalog: '' when con is the warehouse itself, else the alias it is attached under. Values go in
    as DuckDB variables (set from quoted literals, sql_literal), never into the views' SQL text.
    """
    _set_variables(con, catalog, as_of_load,
                   cutoff=f"{sql_literal(cutoff.isoformat() if cutoff else None)}::TIMESTAMPTZ",
                   registry=f"{sql_literal(registry)}::VARCHAR")
    zones = _zones(con, catalog)
    if zones:
        con.execute("SET VARIABLE registry_tz = MAP {"
                    + ", ".join(f"{sql_literal(r)}: {sql_literal(z)}" for r, z in sorted(zones.items())) + "}")
    views = {r[0] for r in sqlfiles.run(con, "warehouse", "sources/history_views.sql").fetchall()}

    def layer(name: str, body: str, **identifiers: str) -> str:
        return sqlfiles.render("warehouse", f"sources/{name}.sql", {"body": body}, **identifiers)

    # sessions before patients: a patient's cut-off looks at its sessions (cutoff_patients.sql)
    for table in sorted(KEYS, key=lambda t: t == "patients"):
        if as_of_load is None:
            body = sqlfiles.render("warehouse", "sources/record_current.sql",
                                   core_table=_table(catalog, f"core.{table}"))
        else:
            hist = f"{table}_versions" if f"{table}_versions" in views else table
            body = sqlfiles.render("warehouse", "sources/record_as_of.sql",
                                   {"key_columns": ", ".join(_q(k) for k in KEYS[table])},
                                   history_table=_table(catalog, f"history.{hist}"))
        if table in INSTANTS:
            body = layer("with_instant", body, column=INSTANTS[table])
            if zones:
                body = layer("local_wall_clock", body, column=INSTANTS[table])
        if table == "patients":
            body = layer("cutoff_patients", body, column=DATED[table])
        elif table in DATED:
            body = layer("cutoff_dated", body, column=DATED[table])
        con.execute(layer("view", body, view=f"src_{table}"))
    loads = _table(catalog, "ops.loads")
    sqlfiles.run(con, "warehouse", "sources/src_loads.sql", loads_table=loads)
    sqlfiles.run(con, "warehouse", "sources/src_data_ends.sql", loads_table=loads)
    sqlfiles.run(con, "warehouse", "sources/src_quarantine.sql", quarantine_table=_table(catalog, "ops.quarantine"))
    sqlfiles.run(con, "warehouse", "sources/src_alerts.sql", alerts_table=_table(catalog, "ops.alerts"),
                 loads_table=loads)
