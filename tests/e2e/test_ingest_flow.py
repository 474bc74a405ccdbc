"""End-to-end: real Prefect flow runs of the ingest into a real DuckDB file."""
from __future__ import annotations

import copy
import csv
import io
import json
import shutil
import zipfile

import duckdb
import pytest

from whquery import query
from exports import BASE, csv_bytes, write_export
from flows.ingest import ingest_exports, ingest_export
from transforms.pseudonymise import patient_key
from flows_free import KEY

pytestmark = pytest.mark.e2e


def tables_with(**changes):
    t = copy.deepcopy(BASE)
    for table, fn in changes.items():
        fn(t[table])
    return t


def all_text(path: str) -> str:
    """Every value of every table in the warehouse, as JSON text."""
    con = duckdb.connect(path, read_only=True)
    try:
        out = []
        for schema, table in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()"
        ).fetchall():
            out += [r[0] for r in con.execute(f'SELECT to_json(t)::VARCHAR FROM "{schema}"."{table}" t').fetchall()]
        return "\n".join(out)
    finally:
        con.close()


def test_clean_load_is_queryable(tmp_path, wh):
    r = ingest_export(str(write_export(tmp_path / "x")), warehouse=wh)
    assert r["status"] == "loaded" and r["load_id"] == 1
    assert r["tables"]["sessions"]["loaded"] == 2 and r["tables"]["sessions"]["quarantined"] == 0
    assert query(wh, "SELECT count(*) FROM core.assessments") == [(3,)]
    key = patient_key(KEY.encode(), "test-registry", "MRN-1001")
    assert query(wh, "SELECT count(*) FROM core.sessions WHERE patient_key = ?", [key]) == [(1,)]
    loads = query(wh, "SELECT status, export_id, flow_run_id IS NOT NULL, row_counts->>'$.vitals.loaded' FROM ops.loads")
    assert loads == [("loaded", "2025-01-31T23-00-00Z", True, "3")]
    assert query(wh, "SELECT count(*) FROM ops.validation_results WHERE load_id = 1")[0][0] > 100
    assert query(wh, "SELECT rule FROM ops.alerts") == [("assessments.phq9_item9.positive",)]
    # patients keep birth year and ZIP3 only
    assert query(wh, "SELECT birth_year, zip3 FROM core.patients ORDER BY birth_year") == [(1970, "021"), (1985, "941")]


def test_redelivery_same_id_or_same_bytes_is_a_duplicate(tmp_path, wh):
    from flows.ingest import STEPS, ingest_progress

    folder = write_export(tmp_path / "x")
    steps = []
    with ingest_progress(steps.append):  # what the CLI's progress bar hears
        assert ingest_export(str(folder), warehouse=wh)["status"] == "loaded"
        assert steps == list(STEPS)
        assert ingest_export(str(folder), warehouse=wh)["status"] == "duplicate"
        assert steps == list(STEPS) + ["verify"]
    copy_dir = tmp_path / "elsewhere" / "same-bytes"
    shutil.copytree(folder, copy_dir)
    zipped = tmp_path / "again.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, p.name)
    assert ingest_export(str(copy_dir), warehouse=wh)["status"] == "duplicate"
    assert ingest_export(str(zipped), warehouse=wh)["status"] == "duplicate"
    statuses = query(wh, "SELECT status, count(*) FROM ops.loads GROUP BY 1 ORDER BY 1")
    assert statuses == [("duplicate", 3), ("loaded", 1)]
    assert query(wh, "SELECT count(*) FROM core.sessions") == [(2,)]
    assert query(wh, "SELECT count(*) FROM history.sessions") == [(0,)]


def _correction(t):
    t[2]["total_score"] = "30"  # A3 MADRS 32 -> 30


def test_corrections_and_out_of_order_arrival(tmp_path, wh):
    first = write_export(tmp_path / "x", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    second = write_export(tmp_path / "x", tables_with(assessments=_correction), export_id="e2",
                          exported_at="2025-02-28T23:00:00Z", mode="incremental")
    # the later export arrives first; the earlier one must not overwrite it
    assert ingest_export(str(second), warehouse=wh)["status"] == "loaded"
    assert ingest_export(str(first), warehouse=wh)["status"] == "loaded"
    assert query(wh, "SELECT total_score, export_id FROM core.assessments WHERE assessment_id = 'A3'") == [(30, "e2")]
    assert query(wh, "SELECT total_score, export_id FROM history.assessments WHERE assessment_id = 'A3'") == [(32, "e1")]
    # as the warehouse stood after load 1 (only e2 loaded), and after load 2
    assert query(wh, "SELECT total_score FROM history.assessments_as_of(1) WHERE assessment_id = 'A3'") == [(30,)]
    assert query(wh, "SELECT count(*) FROM history.assessments_as_of(2)") == [(3,)]


def test_correction_in_order_supersedes(tmp_path, wh):
    first = write_export(tmp_path / "x", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    second = write_export(tmp_path / "x", tables_with(assessments=_correction), export_id="e2",
                          exported_at="2025-02-28T23:00:00Z", mode="incremental")
    results = ingest_exports([str(tmp_path / "x")], warehouse=wh)
    assert [r["export_id"] for r in results] == ["e1", "e2"]
    assert query(wh, "SELECT total_score FROM core.assessments WHERE assessment_id = 'A3'") == [(30,)]
    assert query(wh, "SELECT total_score FROM history.assessments_as_of(1) WHERE assessment_id = 'A3'") == [(32,)]
    del first, second


def test_full_export_withdraws_what_it_no_longer_holds(tmp_path, wh):
    ingest_export(str(write_export(tmp_path / "x", export_id="e1", exported_at="2025-01-31T23:00:00Z")), warehouse=wh)
    later = tables_with(assessments=lambda rows: rows.pop(2), labs=lambda rows: rows.clear())
    later.pop("labs")  # a full export that does not carry a table withdraws nothing from it
    r = ingest_export(str(write_export(tmp_path / "x", later, export_id="e2", exported_at="2025-02-28T23:00:00Z")),
                      warehouse=wh)
    assert r["status"] == "loaded" and r["tables"]["assessments"]["withdrawn"] == 1
    assert query(wh, "SELECT assessment_id FROM core.assessments ORDER BY 1") == [("A1",), ("A2",)]
    assert query(wh, "SELECT op FROM history.assessments WHERE assessment_id = 'A3' ORDER BY load_id") == [
        ("upsert",), ("withdraw",)]
    assert query(wh, "SELECT count(*) FROM core.labs") == [(1,)]
    assert query(wh, "SELECT count(*) FROM history.assessments_as_of(1)") == [(3,)]
    # an older incremental arriving late cannot bring the withdrawn record back
    late = write_export(tmp_path / "x", {"assessments": BASE["assessments"]}, export_id="e1b",
                        exported_at="2025-02-15T00:00:00Z", mode="incremental")
    assert ingest_export(str(late), warehouse=wh)["status"] == "loaded"
    assert query(wh, "SELECT count(*) FROM core.assessments WHERE assessment_id = 'A3'") == [(0,)]


def test_structural_failures_reject_the_whole_export(tmp_path, wh):
    folder = write_export(tmp_path / "x")
    (folder / "vitals.csv").write_bytes((folder / "vitals.csv").read_bytes() + b"S2,post40,40,130,80,70,99\n")
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and "vitals.csv" in r["reason"] and "bundle.sha256" in r["reason"]
    outside = write_export(tmp_path / "y")
    m = json.loads((outside / "manifest.json").read_text())
    m["files"][0]["path"] = "../x/2025-01-31T23-00-00Z/patients.csv"
    (outside / "manifest.json").write_text(json.dumps(m))
    r = ingest_export(str(outside), warehouse=wh)
    assert r["status"] == "rejected" and "bundle.path_inside" in r["reason"]
    assert query(wh, "SELECT status, count(*) FROM ops.loads GROUP BY 1") == [("rejected", 2)]
    assert query(wh, "SELECT count(*) FROM core.patients") == [(0,)]


@pytest.mark.parametrize("fmt", ["csv.gz", "parquet", "zip"])
def test_formats_load_the_same(tmp_path, wh, fmt):
    if fmt == "zip":
        folder = write_export(tmp_path / "x")
        source = tmp_path / "bundle.zip"
        with zipfile.ZipFile(source, "w") as zf:
            for p in folder.iterdir():
                zf.write(p, f"bundle/{p.name}")
    else:
        source = write_export(tmp_path / "x", fmt=fmt)
    r = ingest_export(str(source), warehouse=wh)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT count(*) FROM core.vitals") == [(3,)]
    assert query(wh, "SELECT sbp FROM core.vitals WHERE timepoint = 'post40'") == [(138,)]


def test_bom_crlf_quoted_newlines(tmp_path, wh):
    rows = copy.deepcopy(BASE["adverse_events"])
    rows[0]["term"] = 'felt "detached",\nthen dizzy'
    raw = {"adverse_events": csv_bytes(rows, newline="\r\n", bom=True)}
    r = ingest_export(str(write_export(tmp_path / "x", raw_files=raw)), warehouse=wh)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT term, source_row FROM core.adverse_events") == [('felt "detached",\nthen dizzy', 2)]


def test_blank_and_malformed_lines_number_loaded_and_quarantined_rows_alike(tmp_path, wh):
    """The review's file: blank lines at physical lines 6, 32 and 33, malformed records 21 and 24.
    source_row is the record line (header = 1, blank lines not counted) in core and quarantine
    alike; the good record after the first malformed one had been numbered 21, like it."""
    header = list(BASE["adverse_events"][0])
    lines, record, physical = [",".join(header)], 1, 1
    while record < 36:
        physical += 1
        if physical in (6, 32, 33):
            lines.append("")
            continue
        record += 1
        values = [f"E{record}" if h == "ae_id" else BASE["adverse_events"][0][h] for h in header]
        lines.append(",".join(values[:4] if record in (21, 24) else values))
    raw = {"adverse_events": ("\n".join(lines) + "\n").encode()}
    r = ingest_export(str(write_export(tmp_path / "x", raw_files=raw, rows_override={"adverse_events": 35})),
                      warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["adverse_events"]["malformed"] == 2, r["reason"]
    loaded = query(wh, "SELECT ae_id, source_row FROM core.adverse_events ORDER BY source_row")
    assert loaded == [(f"E{n}", n) for n in range(2, 37) if n not in (21, 24)]
    assert query(wh, "SELECT source_row FROM ops.quarantine WHERE rule = 'adverse_events.row.malformed' "
                     "ORDER BY source_row") == [(21,), (24,)]


def test_rejected_share_over_threshold_loads_nothing(tmp_path, wh):
    def vitals(rows):
        rows[2] = {**rows[2], "sbp": "999"}
        rows[1] = {**rows[1], "spo2": "85"}  # an alert, had the export loaded

    bad = tables_with(vitals=vitals)
    r = ingest_export(str(write_export(tmp_path / "x", bad)), warehouse=wh, reject_threshold=0.05)
    assert r["status"] == "rejected" and "vitals: 1 of 3 rows rejected" in r["reason"]
    assert query(wh, "SELECT count(*) FROM core.sessions") == [(0,)]
    # what the result and the ledger say of it: nothing loaded, nothing alerted (a review found
    # 'loaded' counts and alerts printed for a rejected export)
    assert r["tables"]["vitals"]["loaded"] == 0 and r["tables"]["vitals"]["valid"] == 2 and not r["alerts"]
    (counts,) = query(wh, "SELECT row_counts FROM ops.loads WHERE status = 'rejected'")[0]
    assert {t: c["loaded"] for t, c in json.loads(counts).items()} == dict.fromkeys(r["tables"], 0)
    assert query(wh, "SELECT count(*) FROM ops.alerts") == [(0,)]
    q = query(wh, "SELECT table_name, source_row, rule, raw_values->>'$.sbp' FROM ops.quarantine")
    assert q == [("vitals", 4, "vitals.sbp.range", "999")]
    # the same export with a tolerant threshold loads, its bad row quarantined once
    r = ingest_export(str(tmp_path / "x" / "2025-01-31T23-00-00Z"), warehouse=wh, reject_threshold=0.5)
    assert r["status"] == "loaded" and r["tables"]["vitals"] == {**r["tables"]["vitals"], "loaded": 2, "quarantined": 1}
    assert r["alerts"]["vitals.spo2.low"] == 1 and query(wh, "SELECT count(*) FROM ops.alerts") == [(sum(r["alerts"].values()),)]


def test_quarantine_keeps_raw_values_with_pseudonymised_patient(tmp_path, wh):
    bad = tables_with(sessions=lambda rows: rows.append({**rows[1], "session_id": "S3", "dose_mg": "forty"}))
    r = ingest_export(str(write_export(tmp_path / "x", bad)), warehouse=wh, reject_threshold=0.5)
    assert r["status"] == "loaded" and r["rules_broken"] == {"sessions.dose_mg.type": 1}
    (raw,) = query(wh, "SELECT raw_values FROM ops.quarantine")[0]
    values = json.loads(raw)
    assert values["dose_mg"] == "forty" and values["session_id"] == "S3"
    assert values["patient_id"] == patient_key(KEY.encode(), "test-registry", "MRN-1002")


def test_missing_key_refuses_to_run(tmp_path, wh, monkeypatch):
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY")
    with pytest.raises(Exception, match="no pseudonymisation key"):
        ingest_export(str(write_export(tmp_path / "x")), warehouse=wh)


def _synthea_patients(shared_data) -> tuple[bytes, list[dict]]:
    text = (shared_data / "synthea-csv" / "patients.csv").read_text()
    rows = list(csv.DictReader(io.StringIO(text)))
    out = [{"patient_id": r["Id"], "enrolled_on": "2025-01-05", **r} for r in rows]
    return csv_bytes(out), rows


def test_identifiers_reach_nothing(tmp_path, wh, shared_data, capfd):
    """Synthea's patients.csv as a hostile patients file: SSNs, licences, passports, names,
    addresses, coordinates and raw ids must appear nowhere in the warehouse or the logs."""
    data, rows = _synthea_patients(shared_data)
    r = ingest_export(str(write_export(tmp_path / "x", {"patients": []}, raw_files={"patients": data},
                                       rows_override={"patients": len(rows)})), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded"
    assert {"ssn", "drivers", "passport", "first", "last", "address", "city", "lat", "lon"} <= set(
        r["dropped_columns"]["patients"])
    loaded = query(wh, "SELECT count(*) FROM core.patients")[0][0]
    assert loaded == len(rows)
    text = all_text(wh)
    logs = capfd.readouterr()
    needles = set()
    for row in rows:
        for col in ("Id", "SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "MAIDEN", "ADDRESS", "LAT", "LON"):
            if row[col]:
                needles.add(row[col])
        if row["ZIP"]:
            needles.add(f'"{row["ZIP"]}"')
    leaks = [n for n in needles if n in text or n in logs.out or n in logs.err]
    assert leaks == []
    raw = open(wh, "rb").read()
    assert not [n for n in needles if n.encode() in raw]


def test_every_alert_names_the_patient_of_its_record(tmp_path, wh):
    """Vitals rows have no patient column: their alerts take the patient of the row's session."""
    from datetime import date

    from synth import generate_registry

    for export in generate_registry(tmp_path / "reg", "alerts", patients=60, seed=5, start=date(2025, 1, 1), months=2):
        assert ingest_export(str(export), warehouse=wh)["status"] == "loaded"
    by_table = dict(query(wh, "SELECT table_name, count(*) FROM ops.alerts GROUP BY ALL"))
    assert by_table.get("vitals", 0) > 0 and by_table.get("assessments", 0) > 0, by_table
    wrong = query(wh, """
        SELECT a.table_name, a.record_id, a.patient_key FROM ops.alerts a
        WHERE a.patient_key IS DISTINCT FROM CASE a.table_name
            WHEN 'vitals' THEN (SELECT any_value(s.patient_key) FROM history_and_core_sessions s WHERE s.session_id = a.record_id)
            WHEN 'sessions' THEN (SELECT any_value(s.patient_key) FROM history_and_core_sessions s WHERE s.session_id = a.record_id)
            WHEN 'assessments' THEN (SELECT any_value(x.patient_key) FROM core.assessments x WHERE x.assessment_id = a.record_id)
            WHEN 'adverse_events' THEN (SELECT any_value(x.patient_key) FROM core.adverse_events x WHERE x.ae_id = a.record_id)
            WHEN 'labs' THEN (SELECT any_value(x.patient_key) FROM core.labs x WHERE x.lab_id = a.record_id)
            ELSE a.patient_key END""".replace(
        "history_and_core_sessions", "(SELECT session_id, patient_key FROM core.sessions UNION ALL "
                                     "SELECT session_id, patient_key FROM history.sessions)"))
    assert wrong == []


def test_a_rejected_export_says_nothing_was_parked(tmp_path, wh):
    """A review found '184 parked' printed for an export that loaded nothing: rows waiting for a
    parent are parked only by a load."""
    def vitals(rows):
        rows[2] = {**rows[2], "sbp": "999"}
        rows.append({**rows[0], "session_id": "S9"})  # its session is in no export: it would wait

    r = ingest_export(str(write_export(tmp_path / "x", tables_with(vitals=vitals))), warehouse=wh,
                      reject_threshold=0.05)
    assert r["status"] == "rejected" and "parked" not in r["tables"]["vitals"], r["tables"]["vitals"]
    (counts,) = query(wh, "SELECT row_counts FROM ops.loads")[0]
    assert "parked" not in json.loads(counts)["vitals"]
    assert query(wh, "SELECT count(*) FROM parked.vitals") == [(0,)]
