"""The load transaction: exactly-once lives here, in DuckDB.

An export's ledger row (ops.loads) is written in the same transaction as its rows, its
withdrawals, its quarantine, its validation results and its alerts. The duplicate check runs
inside that transaction too. So a crash at any point leaves the warehouse as it was, and a retry
either loads the export once or finds it loaded. The warehouse file is held only for this
transaction; all the reading and validating happened before, in memory.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

import duckdb

from transforms import sqlfiles
from transforms.split import RECORD_COLUMN
from transforms.tables import TABLES
from warehouse.connect import attach, detach
from warehouse.migrate import has_table

FAULT_ENV = "OUTCOMES_TEST_FAULT"  # tests: "<step>" makes the load die there (see _fault)


@dataclass
class ExportMeta:
    registry_id: str
    export_id: str
    exported_at: datetime
    mode: str
    adapter: str
    contract: str | None
    content_sha256: str | None
    source: str
    started_at: datetime
    flow_run_id: str | None = None
    source_files: dict[str, str] = field(default_factory=dict)  # table -> relpath
    notify: str | None = None  # the service instance that sends this load's events (ops.outbox)
    timezone: str | None = None  # the zone its local times were read in (reports date by it)


@dataclass
class LoadOutcome:
    status: str  # loaded | duplicate | rejected
    load_id: int
    reason: str | None = None
    duplicate_of: int | None = None
    unparked: dict = field(default_factory=dict)  # table -> parked rows of earlier exports loaded now
    unparked_alerts: dict = field(default_factory=dict)  # rule -> alerts those rows raised


def _fragments(table: str) -> dict[str, str]:
    key = list(TABLES[table].key)
    def match(a: str, b: str) -> str:
        return " AND ".join(f"{a}.{c} IS NOT DISTINCT FROM {b}.{c}" for c in key)
    return {
        "key_cols": ", ".join(key),
        "key_cols_c": ", ".join(f"c.{c}" for c in key),
        "key_cols_k": ", ".join(f"k.{c}" for c in key),
        "key_first": key[0],
        "key_match_c": match("k", "c"),
        "key_match_n": match("k", "n"),
        "version_dated": "false",  # retire.sql: withdrawals dated as this export (or a newer version)
        "key_cols_n": ", ".join(f"n.{c}" for c in key),
        # upsert.sql: whether full export f held record n only as a parked row (parked.<t>_held;
        # patients are never parked)
        "held_by_f_n": "false" if table == "patients" else
        f"EXISTS (SELECT 1 FROM parked.{table}_held h WHERE h.registry_id = getvariable('registry_id') "
        f"AND h.load_id = f.load_id AND {match('h', 'n')})",
    }


def _fault(step: str) -> None:
    import os

    if os.environ.get(FAULT_ENV) == step:
        os._exit(137)  # as abrupt as kill -9: no cleanup, no rollback


def find_loaded(con: duckdb.DuckDBPyConnection, registry_id: str, export_id: str, sha: str | None,
                catalog: str = "wh") -> int | None:
    row = con.execute(
        f"SELECT min(load_id) FROM {catalog}.ops.loads WHERE registry_id = ? AND status = 'loaded' "
        f"AND (export_id = ? OR (? IS NOT NULL AND content_sha256 = ?))",
        [registry_id, export_id, sha, sha],
    ).fetchone()
    return row[0]


# (child, parent, the child's column naming the parent), parents first so a withdrawn patient's
# sessions go before their vitals
CASCADE = [("sessions", "patients", "patient_key"), ("vitals", "sessions", "session_id"),
           ("assessments", "patients", "patient_key"), ("adverse_events", "patients", "patient_key"),
           ("labs", "patients", "patient_key")]


def _set_last_full(con, last_full: tuple | None, this_full: bool = False) -> None:
    """The variables park.sql and unpark.sql read: the newest full export of a table (exported_at,
    export_id, load_id), or NULLs; and upsert.sql's this_full: whether this export, not in ops.loads
    yet, is a full export of the table (it counts for the parked rows it loads)."""
    con.execute("SET VARIABLE this_full = ?", [this_full])
    at, _, load = last_full or (None, None, None)
    con.execute("SET VARIABLE last_full_at = ?", [at])
    con.execute("SET VARIABLE last_full_load = ?::BIGINT", [load])


def _parking(con, meta: ExportMeta, load_id: int, tables: list[str], counts: dict) -> dict:
    """This export's rows quarantined only for a missing parent are parked (park.sql); then parked
    rows whose parent is now current load (unpark.sql, then upsert.sql). Parents first: a session
    loaded from the parked ones can be the parent of a vital sign parked now or earlier.
    Returns {table: parked rows loaded now}."""
    unparked = {}
    for table, parent, col in CASCADE:
        frag = _fragments(table) | {"parent": parent, "parent_col": col}
        last_full = _last_full_export(con, meta.registry_id, table)
        full = meta.mode == "full" and table in tables and not _withdrawals_skipped(counts.get(table))
        if full and (last_full is None or meta.exported_at >= last_full[0]):
            last_full = (meta.exported_at, meta.export_id, load_id)  # this export, not in ops.loads yet
        _set_last_full(con, last_full, this_full=full)
        record = RECORD_COLUMN[table]
        if table in tables:
            sqlfiles.run(con, "warehouse", "load/new_versions.sql", table=table, view=f"parking_{table}",
                         rows=f"park_{table}")
            if full:
                sqlfiles.run(con, "warehouse", "load/held.sql", fragments=frag, table=table)
            sqlfiles.run(con, "warehouse", "load/park.sql", fragments=frag, table=table)
        n = 0
        # (most loads have nothing parked: then no pass over core for parents or ties)
        if con.execute(f"SELECT count(*) FROM parked.{table} WHERE registry_id = getvariable('registry_id')"
                       ).fetchone()[0]:
            sqlfiles.run(con, "warehouse", "load/unpark.sql", fragments=frag, table=table)
            n = con.execute(f"SELECT count(*) FROM new_{table}").fetchone()[0]
        if n:
            sqlfiles.run(con, "warehouse", "load/upsert.sql", fragments=frag, table=table)
            if table == "sessions":
                _restore_vitals(con, counts)
            sqlfiles.run(con, "warehouse", "load/unpark_alerts.sql", table=table, record=record, fragments={
                "patient_sql": "k.patient_key" if table != "vitals" else "s.patient_key",
                "patient_join": "" if table != "vitals" else
                "LEFT JOIN core.sessions s ON s.registry_id = k.registry_id AND s.session_id = k.session_id"})
            sqlfiles.run(con, "warehouse", "load/unparked.sql", fragments=frag, table=table)
            unparked[table] = n
        sqlfiles.run(con, "warehouse", "load/parked_alerts_gone.sql", table=table, record=record)
        if table in tables:
            waiting = con.execute(f"SELECT count(*) FROM parked.{table} WHERE registry_id = getvariable('registry_id') "
                                  "AND load_id = getvariable('load_id')::BIGINT").fetchone()[0]
            c = counts.setdefault(table, {})
            c.pop("parked", None)  # (split's count of rows to park: what still waits replaces it)
            if waiting:
                c["parked"] = waiting
        if n:  # also of a table the export did not carry: the ledger accounts for every row a load
            # made current (it does not make the table read as carried: _last_full_export keys on `read`)
            counts.setdefault(table, {})["unparked"] = n
    return unparked


def _restore_vitals(con, counts: dict) -> None:
    """After sessions' upsert: a session made current again by a version older than the export
    whose cascade took it out gets back the vital signs that cascade took (restore_vitals.sql)."""
    sqlfiles.run(con, "warehouse", "load/restore_vitals.sql")
    n = con.execute("SELECT count(*) FROM restore_vitals").fetchone()[0]
    if n:
        c = counts.setdefault("vitals", {})
        c["restored_with_session"] = c.get("restored_with_session", 0) + n


def _supersede_orphans(con, tables: list[str], counts: dict) -> bool:
    """This export's rows waiting for a parent that was current at their exported_at and withdrawn
    later: in exported_at order they loaded and went with the parent, so each withdraws its record,
    dated as itself, and is not parked (supersede_orphans.sql). Whether a session left core (the
    cascade then takes its vital signs)."""
    sessions_gone = False
    for table, parent, col in CASCADE:
        if table not in tables or not counts.get(table, {}).get("parked"):  # (split's rows to park)
            continue
        frag = _fragments(table) | {"parent": parent, "parent_col": col}
        sqlfiles.run(con, "warehouse", "load/new_versions.sql", table=table, view=f"parking_{table}",
                     rows=f"park_{table}")
        sqlfiles.run(con, "warehouse", "load/supersede_orphans.sql", fragments=frag, table=table)
        if not con.execute(f"SELECT count(*) FROM superseded_{table}").fetchone()[0]:
            continue
        n = con.execute(f"SELECT n FROM superseded_current_{table}").fetchone()[0]
        sqlfiles.run(con, "warehouse", "load/retire.sql", fragments=frag, table=table, gone=f"superseded_{table}")
        if n:
            c = counts.setdefault(table, {})
            c["withdrawn"] = c.get("withdrawn", 0) + n
            c["withdrawn_by_late_orphans"] = n
            sessions_gone = sessions_gone or table == "sessions"
    return sessions_gone


def _cascade(con, counts: dict) -> None:
    """Withdraw the current records a withdrawn patient or session leaves behind, and those older
    than the export under one it left out or deleted but could not withdraw (cascade.sql). Those
    whose version is newer than this export also wait in parked.<t> for their parent to be current
    again (cascade_park.sql), as they would have had they arrived after this export."""
    park = has_table(con, "parked", "sessions", "wh")
    for table, parent, col in CASCADE:
        frag = _fragments(table) | {"parent": parent, "parent_col": col}
        sqlfiles.run(con, "warehouse", "load/cascade.sql", fragments=frag, table=table)
        n = con.execute(f"SELECT count(*) FROM cascade_{table}").fetchone()[0]
        if not n:
            continue
        parked = 0
        if park:
            sqlfiles.run(con, "warehouse", "load/cascade_park.sql", fragments=frag, table=table)
            parked = con.execute(f"SELECT count(*) FROM cascade_parked_{table}").fetchone()[0]
        sqlfiles.run(con, "warehouse", "load/retire.sql", fragments=frag | {"version_dated": "k.parent_gone"},
                     table=table, gone=f"cascade_{table}")
        c = counts.setdefault(table, {})
        c["withdrawn"] = c.get("withdrawn", 0) + n
        c["withdrawn_with_parent"] = n
        if parked:
            c["parked_with_parent"] = parked  # of those withdrawn: newer than this export, parked


def _kept_parents(con, table: str, frag: dict, sql: str) -> bool:
    """Add to kept_<table> the patients or sessions this export leaves out or deletes but cannot
    withdraw, a newer version being current (withdraw_kept.sql, withdraw_listed_kept.sql): the
    cascade then takes their records older than the export. Whether there are any."""
    sqlfiles.run(con, "warehouse", f"load/{sql}", fragments=frag, table=table)
    return con.execute(f"SELECT count(*) FROM kept_{table}").fetchone()[0] > 0


def _withdraw_listed(con, table: str, frag: dict, c: dict) -> int:
    """An incremental export's listed deletions (listed_<table>, see withdraw_listed.sql): withdraw
    them as a full export withdraws what it no longer holds (retire.sql); report what became of
    each in the table's notes. A full export needs none: what it does not hold is withdrawn anyway
    (and a server lists deletions only with _since). A listed record the warehouse does not hold yet
    is withdrawn all the same, so the export that made it cannot bring it back by arriving late.
    Returns how many left core."""
    sqlfiles.run(con, "warehouse", "load/withdraw_listed.sql", fragments=frag, table=table)
    sqlfiles.run(con, "warehouse", "load/retire.sql", fragments=frag, table=table, gone=f"gone_{table}")
    listed, withdrawn, again, unknown = sqlfiles.run(con, "warehouse", "load/listed_counts.sql", fragments=frag,
                                                     table=table).fetchone()
    c.setdefault("notes", {})["deletions"] = {k: v for k, v in {
        "listed": listed, "withdrawn": withdrawn, "withdrawn again (already gone)": again,
        "kept: a newer version, or another resource type's record": listed - withdrawn - again - unknown,
        "not in the warehouse": unknown}.items() if v or k == "listed"}
    return withdrawn


def _withdrawals_skipped(c: dict | None) -> bool:
    """Whether a full export withdrew nothing of a table (a malformed line, a row without a readable
    key: load_export writes the note)."""
    return "withdrawals_skipped" in ((c or {}).get("notes") or {})


def _last_full_export(con, registry_id: str, table: str) -> tuple | None:
    """(exported_at, export_id, load_id) of the registry's newest loaded full export that carried `table`
    and withdrew what it did not hold, or None. Its row counts say how many rows it read of each table
    it carried (a table it did not carry may still have counts: records the cascade withdrew, parked
    rows loaded); one whose notes say its withdrawals of the table were skipped did not say which
    records were gone, so it is no full export of that table: an older version arriving after it
    still becomes current, as it would have been had it arrived first (review, session 11)."""
    return con.execute(
        "SELECT exported_at, export_id, load_id FROM wh.ops.loads WHERE registry_id = ? AND status = 'loaded' "
        "AND mode = 'full' AND json_exists(row_counts, ?) AND NOT json_exists(row_counts, ?) "
        "ORDER BY exported_at DESC, load_id DESC LIMIT 1",
        [registry_id, f"$.{table}.read", f"$.{table}.notes.withdrawals_skipped"]).fetchone()


def _set_vars(con: duckdb.DuckDBPyConnection, meta: ExportMeta, load_id: int, loaded_at: datetime) -> None:
    con.execute("SET VARIABLE registry_id = ?", [meta.registry_id])
    con.execute("SET VARIABLE export_id = ?", [meta.export_id])
    con.execute("SET VARIABLE exported_at = ?", [meta.exported_at.isoformat()])
    con.execute("SET VARIABLE load_id = ?", [load_id])
    con.execute("SET VARIABLE loaded_at = ?", [loaded_at.isoformat()])
    for table, relpath in meta.source_files.items():
        con.execute(f"SET VARIABLE source_file_{table} = ?", [relpath])


def _ledger(con, meta: ExportMeta, load_id: int, status: str, reason: str | None, counts: dict | None,
            dropped: dict | None, timings: dict | None) -> None:
    con.execute(
        "INSERT INTO wh.ops.loads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            load_id, meta.registry_id, meta.export_id, meta.exported_at, meta.mode, meta.adapter, meta.contract,
            status, reason, meta.content_sha256, meta.source, json.dumps(counts or {}), json.dumps(dropped or {}),
            meta.started_at, datetime.now(timezone.utc), json.dumps(timings or {}), meta.flow_run_id, meta.timezone,
        ],
    )
    if meta.notify:  # in the same transaction as the ledger row: committed together or not at all
        con.execute("INSERT INTO wh.ops.outbox (load_id, registry_id, instance, queued_at) VALUES (?, ?, ?, ?)",
                    [load_id, meta.registry_id, meta.notify, datetime.now(timezone.utc)])


def _write_findings(con, meta: ExportMeta, load_id: int, results: list, with_alerts: bool) -> None:
    now = datetime.now(timezone.utc)
    rules = {}
    for r in results:
        rules.setdefault(r.rule, r)
    sqlfiles.run(con, "warehouse", "load/quarantine.sql", [load_id, meta.registry_id, meta.export_id, now])
    if results:
        con.executemany(
            "INSERT INTO wh.ops.validation_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [load_id, meta.registry_id, meta.export_id, r.table, r.table, r.rule, r.expectation_type,
                 json.dumps(r.kwargs), r.kahn, r.severity, r.success, r.rows_checked, r.rows_failed, now]
                for r in results
            ],
        )
    if with_alerts:
        sqlfiles.run(con, "warehouse", "load/alerts.sql", [load_id, meta.registry_id, meta.export_id, now])


def _rule_meta_table(con, results: list) -> None:
    rows = {}
    for r in results:
        rows.setdefault(r.rule, (r.rule, r.kahn, r.description))
    for t in TABLES:
        rows.setdefault(f"{t}.row.malformed", (f"{t}.row.malformed", "conformance.value",
                                                "line does not have the header's number of fields"))
    con.execute("CREATE OR REPLACE TEMP TABLE _rule_meta (rule VARCHAR, kahn VARCHAR, description VARCHAR)")
    con.executemany("INSERT INTO _rule_meta VALUES (?, ?, ?)", list(rows.values()))


def load_export(con: duckdb.DuckDBPyConnection, warehouse: str, meta: ExportMeta, tables: list[str],
                counts: dict, dropped: dict, results: list, timings: dict) -> LoadOutcome:
    """Write a validated export in one transaction. `con` holds the work tables (out_*, q_rows...)."""
    _rule_meta_table(con, results)
    attach(con, warehouse)
    try:
        con.execute("BEGIN TRANSACTION")
        try:
            dup = find_loaded(con, meta.registry_id, meta.export_id, meta.content_sha256)
            load_id = con.execute("SELECT nextval('wh.ops.load_seq')").fetchone()[0]
            if dup is not None:
                _ledger(con, meta, load_id, "duplicate", f"already loaded as load {dup}", counts, dropped, timings)
                con.execute("COMMIT")
                return LoadOutcome("duplicate", load_id, f"already loaded as load {dup}", dup)
            loaded_at = datetime.now(timezone.utc)
            _set_vars(con, meta, load_id, loaded_at)
            con.execute("USE wh")
            lost_parents = kept_parents = False
            for parent in ("patients", "sessions"):
                sqlfiles.run(con, "warehouse", "load/kept_none.sql", fragments=_fragments(parent), table=parent)
            for table in tables:
                frag = _fragments(table)
                sqlfiles.run(con, "warehouse", "load/new_versions.sql", table=table, view=f"new_{table}",
                             rows=f"out_{table}")
                last_full = _last_full_export(con, meta.registry_id, table)
                _set_last_full(con, last_full)
                first = con.execute(
                    f"SELECT NOT EXISTS (SELECT 1 FROM core.{table} WHERE registry_id = $1) "
                    f"AND NOT EXISTS (SELECT 1 FROM history.{table} WHERE registry_id = $1)", [meta.registry_id]
                ).fetchone()[0] and (last_full is None or last_full[0] <= meta.exported_at)
                withdrawn = 0
                if first:
                    sqlfiles.run(con, "warehouse", "load/first_load.sql", table=table)
                else:
                    sqlfiles.run(con, "warehouse", "load/upsert.sql", fragments=frag, table=table)
                    if table == "sessions":
                        _restore_vitals(con, counts)
                    if table in ("patients", "sessions") and con.execute(
                            f"SELECT count(*) FROM new_{table} n WHERE NOT EXISTS "
                            f"(SELECT 1 FROM wins_{table} k WHERE {frag['key_match_n']})").fetchone()[0]:
                        # a version that lost (to a later one, or to a withdrawal this export predates):
                        # its records loaded beside it must not stay current without their parent
                        lost_parents = True
                unknown = {k: counts.get(table, {}).get(k) for k in ("malformed", "unkeyed")}
                if meta.mode == "full" and any(unknown.values()):
                    # a malformed line's record key cannot be read with certainty, nor a row's whose
                    # key is blank or unparseable: withdrawing what the export seems not to hold
                    # could withdraw that very record (and, through the cascade, all under it)
                    counts[table].setdefault("notes", {})["withdrawals_skipped"] = ", ".join(
                        f"{n} {what}" for n, what in ((unknown["malformed"], "malformed line(s)"),
                                                      (unknown["unkeyed"], "row(s) without a readable key")) if n
                    ) + ": the records they hold are unknown"
                elif meta.mode == "full" and not first:
                    sqlfiles.run(con, "warehouse", "load/withdraw.sql", fragments=frag, table=table)
                    if table in ("patients", "sessions"):
                        kept_parents = _kept_parents(con, table, frag, "withdraw_kept.sql") or kept_parents
                    sqlfiles.run(con, "warehouse", "load/retire.sql", fragments=frag, table=table, gone=f"gone_{table}")
                    withdrawn = con.execute(f"SELECT count(*) FILTER (WHERE was_current) FROM gone_{table}"
                                            ).fetchone()[0]
                if counts.get(table, {}).get("deleted_listed"):
                    if meta.mode != "full":
                        withdrawn = _withdraw_listed(con, table, frag, counts[table])
                        if table in ("patients", "sessions"):
                            kept_parents = _kept_parents(con, table, frag, "withdraw_listed_kept.sql") or kept_parents
                    else:
                        counts[table].setdefault("notes", {})["deletions"] = {
                            "listed": counts[table]["deleted_listed"],
                            "not applied": "a full export withdraws what it does not hold"}
                counts.setdefault(table, {})["withdrawn"] = withdrawn
                _fault(f"after_{table}")
            # The cascade before the parked rows: a parked row must not load beside a parent this
            # load withdraws (it would go with it, lost, where exported_at order keeps it parked until
            # the parent is current again). Loading parked rows takes no parent out of core, so the
            # cascade has nothing left to do after them (review, session 11).
            if has_table(con, "parked", "sessions", "wh") and _supersede_orphans(con, tables, counts):
                lost_parents = True
            if lost_parents or kept_parents or any(counts.get(t, {}).get("withdrawn") for t in ("patients", "sessions")):
                _cascade(con, counts)
            unparked, unparked_alerts = {}, {}
            if has_table(con, "parked", "sessions", "wh"):
                unparked = _parking(con, meta, load_id, tables, counts)
                # (this load's own alerts are written below: what ops.alerts holds for it now is theirs)
                unparked_alerts = dict(con.execute(
                    "SELECT rule, count(*) FROM ops.alerts WHERE load_id = getvariable('load_id')::BIGINT "
                    "GROUP BY rule ORDER BY rule").fetchall())
            con.execute("USE memory")
            _write_findings(con, meta, load_id, results, with_alerts=True)
            _fault("before_commit")
            _ledger(con, meta, load_id, "loaded", None, counts, dropped, timings)
            _fault("after_ledger")  # tests: the ledger and outbox rows written, not committed
            con.execute("COMMIT")
            return LoadOutcome("loaded", load_id, unparked=unparked, unparked_alerts=unparked_alerts)
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass
            raise
    finally:
        detach(con)


def record_rejection(con: duckdb.DuckDBPyConnection, warehouse: str, meta: ExportMeta, reason: str,
                     counts: dict | None = None, dropped: dict | None = None, results: list | None = None,
                     timings: dict | None = None, with_findings: bool = True) -> LoadOutcome:
    """A rejected export loads nothing; its attempt, findings and quarantine are still recorded."""
    results = results or []
    if with_findings:
        _rule_meta_table(con, results)
    attach(con, warehouse)
    try:
        con.execute("BEGIN TRANSACTION")
        load_id = con.execute("SELECT nextval('wh.ops.load_seq')").fetchone()[0]
        if with_findings:
            _write_findings(con, meta, load_id, results, with_alerts=False)
        _ledger(con, meta, load_id, "rejected", reason, counts, dropped, timings)
        con.execute("COMMIT")
        return LoadOutcome("rejected", load_id, reason)
    finally:
        detach(con)


def record_duplicate(con: duckdb.DuckDBPyConnection, warehouse: str, meta: ExportMeta, duplicate_of: int,
                     timings: dict | None = None) -> LoadOutcome:
    attach(con, warehouse)
    try:
        con.execute("BEGIN TRANSACTION")
        load_id = con.execute("SELECT nextval('wh.ops.load_seq')").fetchone()[0]
        reason = f"already loaded as load {duplicate_of}"
        _ledger(con, meta, load_id, "duplicate", reason, None, None, timings)
        con.execute("COMMIT")
        return LoadOutcome("duplicate", load_id, reason, duplicate_of)
    finally:
        detach(con)
