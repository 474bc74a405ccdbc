"""End-to-end: the warehouse's promises whatever order exports arrive in, checked against a plain
reference model (found by a review: an old export arriving after a newer full export brought back
records the full export had left out; a full export with a malformed line withdrew that record;
a full export dropping a patient left its sessions in core as orphans)."""
from __future__ import annotations

import copy
import itertools

import pytest

from exports import BASE, csv_bytes, write_export
from flows.ingest import ingest_export
from whquery import query

pytestmark = pytest.mark.e2e

A = BASE["assessments"][0]  # PHQ-9 of MRN-1001


def _a(aid: str, score: int, day: str) -> dict:
    return {**A, "assessment_id": aid, "total_score": str(score), "item_scores": "",
            "assessed_at": f"2025-01-{day}T09:00:00Z"}


# name -> (mode, exported_at, assessments)
EXPORTS = {
    "jan-full": ("full", "2025-01-31T23:00:00Z", [_a("A1", 10, "09"), _a("A2", 11, "09"), _a("A3", 12, "09")]),
    "feb-incr": ("incremental", "2025-02-28T23:00:00Z", [_a("A2", 21, "09"), _a("A4", 14, "10")]),
    "mar-full": ("full", "2025-03-31T23:00:00Z", [_a("A1", 19, "09"), _a("A2", 23, "09"), _a("A5", 15, "11")]),
}


def reference(arrived: list[str]) -> dict[str, int]:
    """Each record's state: its latest event by (exported_at, arrival), where an event is a version
    or, for a full export, the absence of the record."""
    keys = {r["assessment_id"] for _, _, rows in EXPORTS.values() for r in rows}
    latest: dict[str, tuple] = {}
    for i, name in enumerate(arrived):
        mode, at, rows = EXPORTS[name]
        have = {r["assessment_id"]: int(r["total_score"]) for r in rows}
        for k in keys:
            if k in have or mode == "full":
                event = ((at, i), have.get(k))
                if k not in latest or event[0] > latest[k][0]:
                    latest[k] = event
    return {k: v for k, (_, v) in latest.items() if v is not None}


def _write(root, name):
    mode, at, rows = EXPORTS[name]
    t = copy.deepcopy(BASE)
    t["assessments"] = rows
    return write_export(root / name, t, export_id=name, exported_at=at, mode=mode)


@pytest.mark.parametrize("order", list(itertools.permutations(EXPORTS)), ids="|".join)
def test_any_arrival_order_gives_the_reference_state(tmp_path, order):
    wh = str(tmp_path / "w.duckdb")
    for n, name in enumerate(order, start=1):
        r = ingest_export(str(_write(tmp_path, name)), warehouse=wh)
        assert r["status"] == "loaded"
        expected = reference(list(order[:n]))
        as_of = dict(query(wh, f"SELECT assessment_id, total_score FROM history.assessments_as_of({r['load_id']})"))
        assert as_of == expected, (order[:n], as_of)
    assert dict(query(wh, "SELECT assessment_id, total_score FROM core.assessments")) == reference(list(order))


def test_a_full_export_with_a_malformed_line_withdraws_nothing_of_that_table(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "a", export_id="e1")), warehouse=wh)["status"] == "loaded"
    header = list(dict.fromkeys(k for r in BASE["sessions"] for k in r))
    text = csv_bytes(BASE["sessions"][1:], header).decode() + \
        ",".join(f'"{BASE["sessions"][0].get(h, "")}"' for h in header) + ',"extra"\n'  # S1, one field too many
    folder = write_export(tmp_path / "b", export_id="e2", exported_at="2025-02-28T23:00:00Z",
                          raw_files={"sessions": text.encode()}, rows_override={"sessions": 2})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["sessions"]["malformed"] == 1
    assert r["tables"]["sessions"]["withdrawn"] == 0 and "withdrawals_skipped" in r["tables"]["sessions"]["notes"]
    assert sorted(query(wh, "SELECT session_id FROM core.sessions")) == [("S1",), ("S2",)]


def test_a_full_export_dropping_a_patient_leaves_no_orphan(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "a", export_id="e1")), warehouse=wh)["status"] == "loaded"
    t = copy.deepcopy(BASE)
    t["patients"] = [p for p in t["patients"] if p["patient_id"] != "MRN-1002"]  # S2, A3, L1 are MRN-1002's
    r = ingest_export(str(write_export(tmp_path / "b", t, export_id="e2", exported_at="2025-02-28T23:00:00Z")),
                      warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["patients"]["withdrawn"] == 1
    assert {"sessions.patient_id.exists", "assessments.patient_id.exists", "labs.patient_id.exists"} <= set(
        r["rules_broken"])
    for table in ("sessions", "assessments", "labs"):
        orphans = query(wh, f"SELECT count(*) FROM core.{table} c ANTI JOIN core.patients p USING (patient_key)")
        assert orphans == [(0,)], table
    assert query(wh, "SELECT count(*) FROM core.vitals v ANTI JOIN core.sessions s USING (session_id)") == [(0,)]


def test_a_full_export_wins_a_tie_with_an_earlier_load(tmp_path, wh):
    t = copy.deepcopy(BASE)
    t["assessments"] = t["assessments"] + [_a("A9", 9, "09")]
    at = "2025-01-31T23:00:00Z"
    assert ingest_export(str(write_export(tmp_path / "i", t, export_id="incr", exported_at=at, mode="incremental")),
                         warehouse=wh)["status"] == "loaded"
    r = ingest_export(str(write_export(tmp_path / "f", export_id="full", exported_at=at)), warehouse=wh)
    assert r["tables"]["assessments"]["withdrawn"] == 1
    assert query(wh, "SELECT count(*) FROM core.assessments WHERE assessment_id = 'A9'") == [(0,)]


def test_a_record_withdrawn_once_counts_once(tmp_path, wh):
    t = copy.deepcopy(BASE)
    t["labs"] = [{**t["labs"][0], "lab_id": "L2"}]  # L1 left out from February on
    counts = []
    for n, month in enumerate(["01-31", "02-28", "03-31"]):
        tables = BASE if n == 0 else t
        r = ingest_export(str(write_export(tmp_path / str(n), tables, export_id=f"e{n}",
                                           exported_at=f"2025-{month}T23:00:00Z")), warehouse=wh)
        counts.append(r["tables"]["labs"]["withdrawn"])
    assert counts == [0, 1, 0]


@pytest.mark.parametrize("table, edit", [
    ("patients", lambda rows: rows[1].update(patient_id="")),  # MRN-1002's key blank
    ("vitals", lambda rows: rows[0].update(minutes_after_dose="forty")),  # a key column that does not parse
])
def test_a_full_export_with_a_row_without_a_readable_key_withdraws_nothing_of_that_table(tmp_path, wh, table, edit):
    """Review, session 10: one blank patient_id in a full export withdrew that patient and, by the
    cascade, its sessions, vitals and scores, though the export held them (with an error)."""
    assert ingest_export(str(write_export(tmp_path / "a", export_id="e1")), warehouse=wh)["status"] == "loaded"
    before = {t: query(wh, f"SELECT count(*) FROM core.{t}")[0][0] for t in BASE}
    t = copy.deepcopy(BASE)
    edit(t[table])
    r = ingest_export(str(write_export(tmp_path / "b", t, export_id="e2", exported_at="2025-02-28T23:00:00Z")),
                      warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"][table]["unkeyed"] == 1
    assert "row(s) without a readable key" in r["tables"][table]["notes"]["withdrawals_skipped"]
    assert all(c.get("withdrawn", 0) == 0 for c in r["tables"].values()), r["tables"]
    after = {t: query(wh, f"SELECT count(*) FROM core.{t}")[0][0] for t in BASE}
    assert after == before  # nothing withdrawn, nothing quarantined as an orphan of a kept patient
    assert not any(rule.endswith(".exists") for rule in r["rules_broken"]), r["rules_broken"]


def test_a_cascade_past_a_newer_child_version_agrees_with_as_of(tmp_path, wh):
    """Review, session 10: a February full export without a patient, arriving after a March
    incremental that corrected the patient's session, took the session out of core by the cascade
    but dated its withdrawal February, so history.sessions_as_of still showed the March version."""
    assert ingest_export(str(write_export(tmp_path / "a", export_id="jan")), warehouse=wh)["status"] == "loaded"
    s2 = next(s for s in BASE["sessions"] if s["session_id"] == "S2")
    r = ingest_export(str(write_export(tmp_path / "b", {"sessions": [{**s2, "monitoring_minutes": "170"}]},
                                       export_id="mar", exported_at="2025-03-15T23:00:00Z", mode="incremental")),
                      warehouse=wh)
    assert r["status"] == "loaded", r["reason"]
    t = copy.deepcopy(BASE)
    for name in t:
        t[name] = [row for row in t[name] if row.get("patient_id") != "MRN-1002" and row.get("session_id") != "S2"]
    t = {name: rows for name, rows in t.items() if rows}  # (labs were MRN-1002's only: no file)
    r = ingest_export(str(write_export(tmp_path / "c", t, export_id="feb", exported_at="2025-02-15T23:00:00Z")),
                      warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded", r["reason"]
    for table in ("patients", "sessions", "vitals", "assessments"):
        key = {"patients": "patient_key", "sessions": "session_id", "vitals": "session_id, timepoint",
               "assessments": "assessment_id"}[table]
        core = sorted(query(wh, f"SELECT {key} FROM core.{table}"))
        as_of = sorted(query(wh, f"SELECT {key} FROM history.{table}_as_of({r['load_id']})"))
        assert as_of == core, table
    assert ("S2",) not in query(wh, "SELECT session_id FROM core.sessions")


def _session(sid: str, pid: str, minutes: str) -> dict:
    return {**BASE["sessions"][0], "session_id": sid, "patient_id": pid, "monitoring_minutes": minutes,
            "session_start": "2025-02-10T09:00:00Z"}


@pytest.mark.parametrize("order", [("feb", "mar"), ("mar", "feb")])
def test_a_row_whose_parent_arrives_later_waits_parked_and_the_latest_version_wins(tmp_path, wh, order):
    """Review, session 10: a March correction of a session whose patient a February export brings,
    arriving before it, was quarantined as an orphan, and February's older version became current
    for good (March again was a duplicate). Such rows now wait in parked.* and load, by the rules
    of any version, once their parent is current."""
    new_patient = {**BASE["patients"][0], "patient_id": "MRN-3001", "enrolled_on": "2025-02-01"}
    exports = {
        "feb": ({"patients": [new_patient], "sessions": [_session("SN1", "MRN-3001", "130")]}, "2025-02-28T23:00:00Z"),
        "mar": ({"sessions": [_session("SN1", "MRN-3001", "170"), _session("SN2", "MRN-3001", "150")],
                 "vitals": [{**BASE["vitals"][0], "session_id": "SN2"}]}, "2025-03-31T23:00:00Z"),
    }
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    results = {}
    for name in order:
        tables, at = exports[name]
        results[name] = ingest_export(str(write_export(tmp_path / name, tables, export_id=name, exported_at=at,
                                                       mode="incremental")), warehouse=wh, reject_threshold=1.0)
        assert results[name]["status"] == "loaded", results[name]["reason"]
    got = dict(query(wh, "SELECT session_id, monitoring_minutes FROM core.sessions WHERE session_id LIKE 'SN%'"))
    assert got == {"SN1": 170, "SN2": 150}
    assert query(wh, "SELECT count(*) FROM core.vitals WHERE session_id = 'SN2'") == [(1,)]
    for t in ("sessions", "vitals"):
        assert query(wh, f"SELECT count(*) FROM parked.{t}") == [(0,)]
    last = results[order[-1]]["load_id"]
    as_of = dict(query(wh, f"SELECT session_id, monitoring_minutes FROM history.sessions_as_of({last}) "
                           "WHERE session_id LIKE 'SN%'"))
    assert as_of == got
    if order == ("mar", "feb"):
        mar = results["mar"]
        assert mar["tables"]["sessions"]["parked"] == 2 and mar["tables"]["vitals"]["parked"] == 1
        assert "sessions.patient_id.exists" in mar["rules_broken"]
        # as the warehouse stood after March: nothing of the parked rows
        assert query(wh, f"SELECT count(*) FROM history.sessions_as_of({mar['load_id']}) "
                         "WHERE session_id LIKE 'SN%'") == [(0,)]
        assert results["feb"]["unparked"] == {"sessions": 2, "vitals": 1}


def test_status_lists_parked_rows(tmp_path, wh):
    import json

    from click.testing import CliRunner

    from outcomes.cli import cli

    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    r = ingest_export(str(write_export(tmp_path / "mar", {"sessions": [_session("SN1", "MRN-3001", "170")]},
                                       export_id="mar", exported_at="2025-03-31T23:00:00Z", mode="incremental")),
                      warehouse=wh, reject_threshold=1.0)
    assert r["tables"]["sessions"]["parked"] == 1
    res = CliRunner().invoke(cli, ["status", "-w", wh, "--json"])
    assert json.loads(res.stdout)["parked"] == [
        {"registry_id": "test-registry", "table": "sessions", "rows": 1, "oldest_export": "mar"}]
    assert "Parked rows" in CliRunner().invoke(cli, ["status", "-w", wh]).stdout


# Parked rows, second review (session 10): ties, a full export that did not carry the table,
# alerts, the reject threshold.
P9 = {**BASE["patients"][0], "patient_id": "MRN-3001", "enrolled_on": "2025-02-01"}


def _incr(tmp_path, name, tables, at, **kw):
    return ingest_export(str(write_export(tmp_path / name, tables, export_id=name, exported_at=at, mode="incremental")),
                         **kw)


def test_a_parked_row_loses_a_tie_to_a_version_loaded_after_it(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    m = "2025-03-31T23:00:00Z"
    x = _incr(tmp_path, "x", {"sessions": [_session("S1", "MRN-3001", "150")]}, m, warehouse=wh)
    assert x["tables"]["sessions"]["parked"] == 1
    _incr(tmp_path, "y", {"sessions": [_session("S1", "MRN-1001", "160")]}, m, warehouse=wh)  # same time, later
    z = _incr(tmp_path, "z", {"patients": [P9]}, "2025-04-30T23:00:00Z", warehouse=wh)
    assert query(wh, "SELECT monitoring_minutes FROM core.sessions WHERE session_id = 'S1'") == [(160,)]
    assert query(wh, f"SELECT monitoring_minutes FROM history.sessions_as_of({z['load_id']}) "
                     "WHERE session_id = 'S1'") == [(160,)]
    assert query(wh, "SELECT count(*) FROM parked.sessions") == [(0,)]


def test_a_full_export_without_a_table_does_not_keep_its_parked_rows_out(tmp_path, wh):
    """A full export's cascade counted withdrawals under tables it did not carry, which then read
    as carried: a later, older vital was taken for one that full export had left out."""
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    feb = {"patients": [BASE["patients"][0]], "sessions": [s for s in BASE["sessions"] if s["patient_id"] == "MRN-1001"]}
    r = ingest_export(str(write_export(tmp_path / "feb", feb, export_id="feb", exported_at="2025-02-28T23:00:00Z")),
                      warehouse=wh)
    assert r["status"] == "loaded" and "vitals" in r["tables"] and "read" not in r["tables"]["vitals"]
    vital = {**BASE["vitals"][0], "session_id": "S9"}
    assert _incr(tmp_path, "orph", {"vitals": [vital]}, "2025-02-20T23:00:00Z",
                 warehouse=wh)["tables"]["vitals"]["parked"] == 1
    _incr(tmp_path, "s9", {"sessions": [_session("S9", "MRN-1001", "130")]}, "2025-03-31T23:00:00Z", warehouse=wh)
    assert query(wh, "SELECT session_id, timepoint FROM core.vitals WHERE session_id = 'S9'") == [("S9", "pre")]


def test_parked_rows_raise_their_alerts_when_they_load(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    item9 = {**BASE["assessments"][0], "assessment_id": "A9", "patient_id": "MRN-3001", "total_score": "10",
             "item_scores": "1;1;1;1;1;1;1;1;2", "assessed_at": "2025-02-11T09:00:00Z"}
    mar = _incr(tmp_path, "mar", {"sessions": [_session("S9", "MRN-3001", "130")], "assessments": [item9],
                                  "vitals": [{**BASE["vitals"][0], "session_id": "S9", "spo2": "80"}]},
                "2025-03-31T23:00:00Z", warehouse=wh)
    assert mar["status"] == "loaded" and not mar["alerts"]
    assert query(wh, f"SELECT count(*) FROM ops.alerts WHERE load_id = {mar['load_id']}") == [(0,)]
    feb = _incr(tmp_path, "feb", {"patients": [P9]}, "2025-02-28T23:00:00Z", warehouse=wh)
    assert feb["unparked"] == {"sessions": 1, "vitals": 1, "assessments": 1}
    assert feb["alerts"] == {"assessments.phq9_item9.positive": 1, "vitals.spo2.low": 1}
    (key,) = query(wh, "SELECT patient_key FROM core.patients WHERE enrolled_on = '2025-02-01'")[0]
    got = sorted(query(wh, f"SELECT load_id, table_name, record_id, patient_key, rule FROM ops.alerts "
                           f"WHERE load_id = {feb['load_id']}"))
    assert got == [(feb["load_id"], "assessments", "A9", key, "assessments.phq9_item9.positive"),
                   (feb["load_id"], "vitals", "S9", key, "vitals.spo2.low")]
    assert query(wh, "SELECT count(*) FROM parked.alerts") == [(0,)]


def test_rows_waiting_for_a_parent_do_not_count_against_the_reject_threshold(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    r = _incr(tmp_path, "mar", {"sessions": [_session("S1", "MRN-1001", "140"), _session("S5", "MRN-3001", "170")]},
              "2025-03-31T23:00:00Z", warehouse=wh)  # the default threshold, 5 %
    assert r["status"] == "loaded" and r["tables"]["sessions"]["parked"] == 1
    assert query(wh, "SELECT monitoring_minutes FROM core.sessions WHERE session_id = 'S1'") == [(140,)]


# Review, session 11 (warehouse): the same exports loaded in arrival order and in exported_at order
# end in the same warehouse, and core agrees with history.<t>_as_of after every load.
def _as_of(table: str, load_id: int) -> str:
    """history.<t>_as_of(load_id), with withdrawals winning a tie within one load (a separate fix of
    the macros: an upsert and a withdrawal of one record in one load at the same exported_at)."""
    from transforms.tables import TABLES

    key = ", ".join(TABLES[table].key)
    return (f"SELECT * EXCLUDE (op) FROM history.{table}_versions WHERE load_id <= {load_id} QUALIFY row_number() "
            f"OVER (PARTITION BY registry_id, {key} ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1 "
            "AND op = 'upsert'")


def _rows(wh: str, source: str, lineage: bool = True) -> list:
    cols = "*" if lineage else "* EXCLUDE (load_id, loaded_at)"  # (which load brought a row depends on the order)
    return sorted(query(wh, f"SELECT {cols} FROM ({source})"), key=repr)


def _replay(tmp_path, exports: dict, order, tag: str) -> tuple[dict, dict]:
    """Load `exports` (name -> (tables, exported_at, mode)) in `order`, checking core against as_of
    after every load. Returns (the final core and parked rows without load lineage, the results)."""
    wh = str(tmp_path / f"{tag}.duckdb")
    results = {}
    for name in order:
        tables, at, mode = exports[name]
        folder = write_export(tmp_path / tag / name, tables, export_id=name, exported_at=at, mode=mode)
        r = results[name] = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
        assert r["status"] == "loaded", (name, r["reason"])
        for t in BASE:
            assert _rows(wh, f"SELECT * FROM core.{t}") == _rows(wh, _as_of(t, r["load_id"])), (order, name, t)
    final = {f"{s}.{t}": _rows(wh, f"SELECT * FROM {s}.{t}", lineage=False)
             for s in ("core", "parked") for t in BASE if not (s == "parked" and t == "patients")}
    return final, results | {"_wh": wh}


def _by_exported_at(exports: dict, arrival) -> list:
    return sorted(arrival, key=lambda n: exports[n][1])  # (stable: ties keep their arrival order)


def _without_p2() -> dict:
    """BASE without patient MRN-1002 and everything of it (S2, its vital, A3, L1)."""
    t = {n: [r for r in rows if r.get("patient_id") != "MRN-1002" and r.get("session_id") != "S2"]
         for n, rows in BASE.items()}
    return {n: rows for n, rows in t.items() if rows}


S2 = next(s for s in BASE["sessions"] if s["session_id"] == "S2")


def _scenario_cascade_past_newer():
    """Finding 1: a February full export drops patient MRN-1002; S2's March correction, arriving
    before it, is newer than it; April brings the patient back."""
    return {"jan": (BASE, "2025-01-31T23:00:00Z", "full"),
            "feb": (_without_p2(), "2025-02-28T23:00:00Z", "full"),
            "mar": ({"sessions": [{**S2, "monitoring_minutes": "170"}]}, "2025-03-31T23:00:00Z", "incremental"),
            "apr": ({"patients": [BASE["patients"][1]]}, "2025-04-30T23:00:00Z", "incremental")}, \
        ["jan", "mar", "feb", "apr"]


def _scenario_skipped_full():
    """Finding 2: a March full export whose assessments withdraw nothing (A3's key blank), and a
    February correction of A3 arriving after it."""
    a3 = next(a for a in BASE["assessments"] if a["assessment_id"] == "A3")
    mar = copy.deepcopy(BASE)
    mar["assessments"] = [a if a["assessment_id"] != "A3" else {**a, "assessment_id": ""} for a in mar["assessments"]]
    return {"jan": (BASE, "2025-01-31T23:00:00Z", "full"),
            "feb": ({"assessments": [{**a3, "total_score": "20"}]}, "2025-02-28T23:00:00Z", "incremental"),
            "mar": (mar, "2025-03-31T23:00:00Z", "full")}, ["jan", "mar", "feb"]


def _scenario_unpark_then_cascade():
    """Finding 4: a February full export drops patient MRN-1002 but still holds S2 and its vital
    (heart rate 99): S2 waits for its patient, the vital for S2; April brings the patient back.
    (February holds the patient's lab too: one it left out would stay withdrawn by the cascade in
    exported_at order, and stay current when April, arriving first, keeps the patient.)"""
    feb = copy.deepcopy(BASE)
    feb["patients"] = [BASE["patients"][0]]
    feb["assessments"] = [a for a in BASE["assessments"] if a["patient_id"] == "MRN-1001"]
    feb["vitals"] = [dict(v, heart_rate="99") for v in BASE["vitals"]]
    return {"jan": (BASE, "2025-01-31T23:00:00Z", "full"),
            "feb": (feb, "2025-02-28T23:00:00Z", "full"),
            "apr": ({"patients": [BASE["patients"][1]]}, "2025-04-30T23:00:00Z", "incremental")}, \
        ["jan", "apr", "feb"]


def _scenario_parked_behind_an_older_version():
    """A March full export of sessions only parks S2 (no patient yet); a February export brings the
    patient and an older S2 (found by the reviewer's fuzz2.py, seed 210)."""
    return {"mar": ({"sessions": BASE["sessions"]}, "2025-03-31T23:00:00Z", "full"),
            "feb": ({"patients": BASE["patients"], "sessions": [{**S2, "monitoring_minutes": "100"}]},
                    "2025-02-28T23:00:00Z", "incremental")}, ["mar", "feb"]


def _run_both(tmp_path, scenario):
    exports, arrival = scenario()
    by_time = _by_exported_at(exports, arrival)
    assert by_time != arrival
    got_arrival, r_arrival = _replay(tmp_path, exports, arrival, "arrival")
    got_time, r_time = _replay(tmp_path, exports, by_time, "by_time")
    for k in got_time:
        assert got_arrival[k] == got_time[k], k
    return r_arrival, r_time


def test_a_cascade_past_a_newer_child_version_parks_it_until_its_parent_returns(tmp_path):
    """Finding 1: February's cascade took S2's March version out for good when March arrived
    first; in exported_at order it waited in parked.sessions and loaded with the patient."""
    r_arrival, r_time = _run_both(tmp_path, _scenario_cascade_past_newer)
    for r in (r_arrival, r_time):
        assert query(r["_wh"], "SELECT monitoring_minutes, export_id FROM core.sessions WHERE session_id = 'S2'") == [
            (170, "mar")]
        assert query(r["_wh"], "SELECT count(*) FROM parked.sessions") == [(0,)]
    feb = r_arrival["feb"]
    assert feb["tables"]["sessions"]["withdrawn"] == 1 and feb["tables"]["sessions"]["parked_with_parent"] == 1
    assert query(r_arrival["_wh"], f"SELECT count(*) FROM ({_as_of('sessions', feb['load_id'])}) "
                                   "WHERE session_id = 'S2'") == [(0,)]
    assert r_arrival["apr"]["unparked"] == {"sessions": 1}


def test_a_full_export_that_skipped_withdrawals_is_no_newest_full_export(tmp_path):
    """Finding 2: with March's assessments withdrawing nothing, February's A3, arriving after March,
    stayed behind January's version in core while as_of said A3 was gone (withdrawn by March)."""
    r_arrival, _ = _run_both(tmp_path, _scenario_skipped_full)
    wh = r_arrival["_wh"]
    assert query(wh, "SELECT total_score, export_id FROM core.assessments WHERE assessment_id = 'A3'") == [(20, "feb")]
    assert query(wh, "SELECT count(*) FROM history.assessments WHERE op = 'withdraw'") == [(0,)]


def test_a_parked_child_of_a_parent_withdrawn_in_the_same_load_waits(tmp_path):
    """Finding 4: in exported_at order February unparked S2's vital (S2's January version still
    current), then its cascade withdrew S2 and the vital: the vital February held was lost, though
    it loads when April arrives first."""
    r_arrival, r_time = _run_both(tmp_path, _scenario_unpark_then_cascade)
    for r in (r_arrival, r_time):
        assert query(r["_wh"], "SELECT heart_rate, export_id FROM core.vitals WHERE session_id = 'S2'") == [(99, "feb")]
    feb = r_time["feb"]
    assert feb["tables"]["vitals"]["parked"] == 1 and "unparked" not in feb["tables"]["vitals"]
    assert r_time["apr"]["unparked"] == {"sessions": 1, "vitals": 1, "labs": 1}


def test_rows_loaded_from_parked_ones_are_counted_in_the_ledger_for_tables_the_export_did_not_carry(tmp_path):
    """Finding 5: April (patients only) loaded S2 from parked.sessions, but ops.loads.row_counts had
    no sessions entry; it would not make April read as carrying sessions (the newest full export)."""
    from click.testing import CliRunner

    from outcomes.cli import cli, format_result

    exports, arrival = _scenario_cascade_past_newer()
    _, r = _replay(tmp_path, exports, _by_exported_at(exports, arrival), "by_time")
    apr, wh = r["apr"], r["_wh"]
    assert apr["unparked"] == {"sessions": 1}
    (counts,) = query(wh, f"SELECT row_counts FROM ops.loads WHERE load_id = {apr['load_id']}")[0]
    import json

    counts = json.loads(counts)
    assert counts["sessions"] == {"unparked": 1} and "read" in counts["patients"]
    assert apr["tables"]["sessions"] == {"unparked": 1}
    assert "loaded from earlier exports' parked rows (their parent is here now): sessions 1" in format_result(apr)
    res = CliRunner().invoke(cli, ["status", "-w", wh, "--json"])
    assert res.exit_code == 0, res.output


def test_a_parked_row_of_a_full_export_is_not_dropped_for_that_export_s_withdrawal(tmp_path):
    """February's S2 lost to March (a newer full export of sessions), and upsert.sql wrote March's
    withdrawal of S2 with February's load id: unpark.sql took it for a withdrawal loaded after
    March's parked S2, which it dropped; in exported_at order March's S2 is current."""
    r_arrival, r_time = _run_both(tmp_path, _scenario_parked_behind_an_older_version)
    for r in (r_arrival, r_time):
        assert sorted(query(r["_wh"], "SELECT session_id, export_id FROM core.sessions")) == [("S1", "mar"), ("S2", "mar")]


def _core(wh: str) -> dict:
    ids = {"patients": "enrolled_on", "sessions": "session_id", "vitals": "session_id || timepoint",
           "assessments": "assessment_id", "adverse_events": "ae_id", "labs": "lab_id"}
    return {t: sorted(query(wh, f"SELECT {c}, exported_at FROM core.{t}")) for t, c in ids.items()}


@pytest.mark.parametrize("feb_tables, mar_tables, left", [
    # feb holds one patient and no other table; mar brings MRN-1002 (S2, A3, L1) back
    ({"patients": BASE["patients"][:1]}, {"patients": BASE["patients"][1:]},
     {"sessions": ["S1"], "labs": []}),
    # feb holds both patients and session S1 only; mar brings S2 back without its vitals
    ({"patients": BASE["patients"], "sessions": [s for s in BASE["sessions"] if s["session_id"] != "S2"]},
     {"sessions": [s for s in BASE["sessions"] if s["session_id"] == "S2"]}, {"sessions": ["S1", "S2"], "vitals": ["S1post40", "S1pre"]}),
], ids=["patient", "session"])
def test_children_of_a_parent_a_full_export_dropped_go_whatever_the_arrival_order(tmp_path, feb_tables, mar_tables,
                                                                                  left):
    """A full export dropping a patient or session (and carrying none of its children's tables)
    takes out its records older than the export: in exported_at order by the cascade, before a later
    export brings the parent back. Arriving after that later export, the full export could not
    withdraw the parent (its newer version wins) and left the children current (review, session 12)."""
    jan = write_export(tmp_path / "x", export_id="jan")
    feb = write_export(tmp_path / "x", feb_tables, export_id="feb", exported_at="2025-02-28T23:00:00Z")
    mar = write_export(tmp_path / "x", mar_tables, export_id="mar", exported_at="2025-03-31T23:00:00Z",
                       mode="incremental")
    states = []
    for order in ([jan, feb, mar], [jan, mar, feb]):
        wh = str(tmp_path / f"w{len(states)}.duckdb")
        for e in order:
            r = ingest_export(str(e), warehouse=wh)
            assert r["status"] == "loaded"
        states.append(_core(wh))
        for table in ("sessions", "vitals", "assessments", "labs"):  # as_of the last load agrees with core
            key = "session_id || timepoint" if table == "vitals" else {"sessions": "session_id", "labs": "lab_id",
                                                                        "assessments": "assessment_id"}[table]
            assert sorted(query(wh, f"SELECT {key}, exported_at FROM history.{table}_as_of({r['load_id']})")
                          ) == states[-1][table], table
    assert states[0] == states[1]
    for table, ids in left.items():
        assert [r[0] for r in states[0][table]] == ids, table


def test_a_random_history_ends_the_same_in_arrival_and_exported_at_order(tmp_path):
    """One seed of tests/e2e/arrival_fuzz.py (`make fuzz` runs more)."""
    from arrival_fuzz import check

    check(tmp_path, 0)


def test_a_session_an_earlier_export_brings_late_leaves_no_stale_warning(tmp_path):
    """Found by arrival_fuzz.py: an assessment whose session came in an earlier export that arrived
    later kept the warning that its session did not exist; in exported_at order it had none."""
    a2 = next(a for a in BASE["assessments"] if a["assessment_id"] == "A2")  # CADSS at S1
    _run_both(tmp_path, lambda: ({
        "patients": ({"patients": BASE["patients"]}, "2025-01-15T23:00:00Z", "full"),
        "sessions": ({"sessions": BASE["sessions"]}, "2025-01-31T23:00:00Z", "incremental"),
        "feb": ({"assessments": [{**a2, "total_score": "14"}]}, "2025-02-28T23:00:00Z", "incremental"),
    }, ["patients", "feb", "sessions"]))


def test_an_old_version_arriving_after_a_full_export_that_parked_the_record_writes_no_withdrawal(tmp_path):
    """Found by arrival_fuzz.py (seed 25): a full export held S2 only as a parked row (moved to a
    patient it withdrew); an older export arriving after it took S2 for a record that export had
    left out and wrote its withdrawal, so as_of hid S2 while core held it."""
    p1, p2 = BASE["patients"]
    to_p1 = {**S2, "patient_id": p1["patient_id"]}
    _run_both(tmp_path, lambda: ({
        "jan": ({"patients": [p1, p2], "sessions": [S2]}, "2025-01-31T23:00:00Z", "full"),
        "feb": ({"patients": [p1, p2], "sessions": [{**S2, "monitoring_minutes": "125"}]}, "2025-02-25T23:00:00Z", "full"),
        "mar": ({"patients": [p2], "sessions": [to_p1]}, "2025-02-27T23:00:00Z", "full"),
    }, ["feb", "mar", "jan"]))


def test_a_correction_older_than_a_full_export_that_held_its_record_parked_becomes_current(tmp_path):
    """A full export held S2 only as a parked row (moved to a patient it withdrew), so S2's earlier
    version stayed current; a correction exported between the two, arriving after the full export,
    lost to the rule that nothing older than the newest full export becomes current, where in
    exported_at order it was current (and as_of showed it while core did not)."""
    p1, p2 = BASE["patients"]
    _run_both(tmp_path, lambda: ({
        "jan": ({"patients": [p1, p2], "sessions": [S2]}, "2025-01-31T23:00:00Z", "full"),
        "feb": ({"sessions": [{**S2, "monitoring_minutes": "150"}]}, "2025-02-10T23:00:00Z", "incremental"),
        "mar": ({"patients": [p2], "sessions": [{**S2, "patient_id": p1["patient_id"]}]}, "2025-02-27T23:00:00Z",
                "full"),
    }, ["jan", "mar", "feb"]))


def test_an_old_version_arriving_after_a_full_export_that_only_parked_the_record_becomes_current(tmp_path):
    """Found by arrival_fuzz.py (seeds 60, 96): a full export held S2 only as a parked row (moved to
    a patient it withdrew), so in exported_at order S2's older version stayed current. Arriving
    first, with S2 never in core, it left no trace of holding S2, and the older version, arriving
    after it, was taken for one of a record it had left out (parked.sessions_held remembers)."""
    p1, p2 = BASE["patients"]
    r_arrival, _ = _run_both(tmp_path, lambda: ({
        "jan": ({"patients": [p1, p2], "sessions": [S2]}, "2025-01-31T23:00:00Z", "full"),
        "mar": ({"patients": [p2], "sessions": [{**S2, "patient_id": p1["patient_id"]}]}, "2025-02-27T23:00:00Z",
                "full"),
    }, ["mar", "jan"]))
    wh = r_arrival["_wh"]
    assert query(wh, "SELECT export_id FROM core.sessions WHERE session_id = 'S2'") == [("jan",)]
    assert query(wh, "SELECT session_id, export_id FROM parked.sessions") == [("S2", "mar")]
    assert query(wh, "SELECT session_id FROM parked.sessions_held") == [("S2",)]


def test_an_old_version_loses_to_a_full_export_between_that_left_its_record_out(tmp_path):
    """Found by arrival_fuzz.py (seed 97): February (full) left A3 out; March (full) held it only as
    a parked row (MRN-1002, which March withdrew). January's A3, arriving last, counted March as
    having held A3 and became current, where in exported_at order February had withdrawn it: every
    full export newer than a version counts, not only the newest."""
    p1, p2 = BASE["patients"]
    a1, a2, a3 = BASE["assessments"]
    r_arrival, _ = _run_both(tmp_path, lambda: ({
        "jan": ({"patients": [p1, p2], "assessments": [a1, a2, a3]}, "2025-01-31T23:00:00Z", "full"),
        "feb": ({"patients": [p1, p2], "assessments": [a1, a2]}, "2025-02-28T23:00:00Z", "full"),
        "mar": ({"patients": [p1], "assessments": [a1, a2, a3]}, "2025-03-31T23:00:00Z", "full"),
    }, ["feb", "mar", "jan"]))
    wh = r_arrival["_wh"]
    assert sorted(query(wh, "SELECT assessment_id FROM core.assessments")) == [("A1",), ("A2",)]
    assert query(wh, "SELECT export_id FROM history.assessments WHERE assessment_id = 'A3' AND op = 'withdraw'"
                 ) == [("feb",)]


def test_a_late_version_whose_parent_a_later_export_withdrew_is_not_parked_and_withdraws_its_record(tmp_path):
    """Found by arrival_fuzz.py (seeds 87, 103): February corrected L1 (MRN-1002's lab); a March
    full export dropped MRN-1002. In exported_at order February's L1 loaded and went with the patient
    (the cascade), and stays gone when April brings the patient back. Arriving after March, it waited
    parked for the patient and loaded with April."""
    l1 = BASE["labs"][0]
    r_arrival, r_time = _run_both(tmp_path, lambda: ({
        "jan": (BASE, "2025-01-31T23:00:00Z", "full"),
        "feb": ({"labs": [{**l1, "value": "55"}]}, "2025-02-15T23:00:00Z", "incremental"),
        "mar": (_without_p2(), "2025-03-31T23:00:00Z", "full"),
        "apr": ({"patients": [BASE["patients"][1]]}, "2025-04-30T23:00:00Z", "incremental"),
    }, ["jan", "mar", "feb", "apr"]))
    for r in (r_arrival, r_time):
        assert query(r["_wh"], "SELECT count(*) FROM core.labs") == [(0,)]
        assert query(r["_wh"], "SELECT count(*) FROM parked.labs") == [(0,)]
    feb = r_arrival["feb"]["tables"]["labs"]
    assert feb["quarantined"] == 1 and "parked" not in feb  # (its patient was gone: quarantine says so)


def test_a_late_correction_to_a_current_parent_wins_over_a_cascade_of_its_older_version(tmp_path):
    """Found by arrival_fuzz.py (seeds 78, 81): February moved S2 to MRN-1001; a March full export
    dropped MRN-1002 and held S2 only as a parked row (moved back to MRN-1002). In exported_at order
    February's S2 stays current (the cascade takes MRN-1002's records, and S2 is not one), and so
    does S2's vital sign. Arriving after March, it lost to the cascade's withdrawal of S2's January
    version, dated as March: a cascade's withdrawal is now dated as the version it takes out, and
    the session it brings back gets back the vital sign that cascade took with it."""
    p1, p2 = BASE["patients"]
    r_arrival, _ = _run_both(tmp_path, lambda: ({
        "jan": ({"patients": [p1, p2], "sessions": BASE["sessions"], "vitals": BASE["vitals"]}, "2025-01-31T23:00:00Z",
                "full"),
        "feb": ({"sessions": [{**S2, "patient_id": p1["patient_id"]}]}, "2025-02-15T23:00:00Z", "incremental"),
        "mar": ({"patients": [p1], "sessions": BASE["sessions"]}, "2025-03-31T23:00:00Z", "full"),
    }, ["jan", "mar", "feb"]))
    wh, feb = r_arrival["_wh"], r_arrival["feb"]
    assert sorted(query(wh, "SELECT session_id, export_id FROM core.sessions")) == [("S1", "mar"), ("S2", "feb")]
    assert query(wh, "SELECT timepoint, export_id FROM core.vitals WHERE session_id = 'S2'") == [("pre", "jan")]
    assert feb["tables"]["vitals"] == {"restored_with_session": 1}
    from outcomes.cli import format_result

    assert "current again with the session this export brought back (the cascade had taken them): vitals 1" in \
        format_result(feb)
