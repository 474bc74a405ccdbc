"""End-to-end: exports built to leak or to break the flow (found by a privacy review). Nothing
identifying may reach the warehouse, a result or a log; a value that once crashed the flow is a
rule violation; an unexpected error is a rejection that repeats none of the export's values."""
from __future__ import annotations

import copy
import glob
import json
import os
import tempfile

import duckdb
import pytest

from exports import BASE, csv_bytes, rehash, write_export
from flows.ingest import ingest_export
from test_ingest_flow import all_text, tables_with
from whquery import query

pytestmark = pytest.mark.e2e

NAME, SSN, PHONE, EMAIL = "Zebediah Quackenbush", "987-65-4329", "(555) 013-7789", "zq.marker@example.org"


def nowhere(wh: str, capfd, result: dict, needles: list[str]) -> list[str]:
    """The needles found in the warehouse's values, its file's bytes, the result or the logs."""
    text, out = all_text(wh), capfd.readouterr()
    blob = open(wh, "rb").read()
    where = [text, out.out, out.err, json.dumps(result)]
    return [n for n in needles if any(n in w for w in where) or n.encode() in blob]


def test_malformed_line_keeps_no_raw_patient_id(tmp_path, wh, capfd):
    """A malformed line's patient id starting with a tab (DuckDB's trim keeps tabs, Python's strip
    does not) was kept as it arrived; a shifted id in another field must be keyed too."""
    header = list(BASE["sessions"][0]) + [c for c in BASE["sessions"][1] if c not in BASE["sessions"][0]]
    good = csv_bytes(BASE["sessions"], header).decode()
    bad = [["S9", "\tPIDTAB-001", "2025-01-12T10:00:00Z", "ketamine", "iv", "40", "", "", "", "", "clinic", "90", "x"],
           ["S8", "MRN-1001", "MRN-1002", "ketamine", "iv", "40", "", "", "", "", "clinic", "90", "y"]]
    lines = good + "".join(",".join(f'"{v}"' for v in row) + "\n" for row in bad)
    folder = write_export(tmp_path / "x", {"sessions": []} | {k: v for k, v in BASE.items() if k != "sessions"},
                          raw_files={"sessions": lines.encode()}, rows_override={"sessions": 4})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["sessions"]["malformed"] == 2
    kept = [json.loads(v) for (v,) in query(
        wh, "SELECT raw_values FROM ops.quarantine WHERE rule = 'sessions.row.malformed' ORDER BY source_row")]
    assert kept[0]["session_id"] == "S9" and kept[0]["patient_id"] and len(kept[0]["patient_id"]) == 64
    assert len(kept[1]["patient_id"]) == 64 and len(kept[1]["session_start"]) == 64  # the shifted id too
    assert nowhere(wh, capfd, r, ["PIDTAB-001", "MRN-1001", "MRN-1002"]) == []


def test_quarantined_patient_keeps_no_full_zip_or_birth_date(tmp_path, wh, capfd):
    def add(rows):
        rows.append({**rows[0], "patient_id": "MRN-2001", "zip": "90210", "birth_date": "1961-07-04",
                     "enrolled_on": "2031-01-01"})  # enrolled in the future: quarantined
        rows.append({**rows[0], "patient_id": "MRN-2002", "zip": "03601", "birth_date": "1921-03-09",
                     "sex": "female"})  # 90 or older, bad code, sparsely populated ZIP prefix
        rows.append({**rows[0], "patient_id": "MRN-2003", "birth_date": "07/04/1961", "zip": "94110"})
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(patients=add))), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["patients"]["quarantined"] == 3
    kept = {v["patient_id"]: v for v in (json.loads(x) for (x,) in query(
        wh, "SELECT DISTINCT raw_values FROM ops.quarantine WHERE table_name = 'patients'"))}
    assert sorted((v["zip"], v["birth_date"]) for v in kept.values()) == [
        ("000", "(withheld: 90 or older)"), ("902", "1961"), ("941", "(withheld: not a year)")]
    # numbers quoted: bare digits could turn up inside a timestamp's microseconds
    assert nowhere(wh, capfd, r, ['"90210"', '"1961-07-04"', "07/04/1961", '"1921-03-09"', '"03601"']) == []


def test_malformed_patient_line_keeps_no_full_zip_or_birth_date(tmp_path, wh, capfd):
    header = list(BASE["patients"][0])
    text = csv_bytes(BASE["patients"], header).decode() + \
        '"MRN-3001","1961-07-04","F","90210","2025-01-05","north","3","F33.2","extra"\n'
    folder = write_export(tmp_path / "x", raw_files={"patients": text.encode()}, rows_override={"patients": 3})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert r["tables"]["patients"]["malformed"] == 1
    (raw,) = query(wh, "SELECT raw_values FROM ops.quarantine WHERE rule = 'patients.row.malformed'")[0]
    v = json.loads(raw)
    assert (v["zip"], v["birth_date"], len(v["patient_id"])) == ("902", "1961", 64)
    assert nowhere(wh, capfd, r, ['"90210"', '"1961-07-04"', "MRN-3001"]) == []


def test_shifted_fields_of_a_malformed_line_keep_no_full_zip_or_birth_date(tmp_path, wh, capfd):
    """A field left out or one too many before the birth date shifts the DOB and ZIP under other
    columns (privacy review, session 16): a malformed line's values are reduced by their shape."""
    header = list(BASE["patients"][0])
    patients = csv_bytes(BASE["patients"], header).decode() + (
        "MRN-3001,F,90271,2025-01-05,north,3,F33.2\n"  # birth_date left out: the ZIP under sex
        "MRN-3002,Fumblewick,1958-03-17,F,90272,2025-01-05,north,3,F33.2\n")  # the DOB under sex
    labs = csv_bytes(BASE["labs"]).decode() + "L9,MRN-1002,2025-01-11,ALT,1932-05-06,90273-1234,40,x\n"
    folder = write_export(tmp_path / "x", raw_files={"patients": patients.encode(), "labs": labs.encode()},
                          rows_override={"patients": 4, "labs": 2})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert (r["tables"]["patients"]["malformed"], r["tables"]["labs"]["malformed"]) == (2, 1)
    kept = [json.loads(v) for (v,) in query(
        wh, "SELECT raw_values FROM ops.quarantine WHERE rule LIKE '%.row.malformed' ORDER BY table_name, source_row")]
    lab, first, second = kept
    assert (lab["value"], lab["unit"], lab["collected_on"]) == ("(withheld: 90 or older)", "902", "2025")
    assert (first["sex"], first["zip"]) == ("902", "2025")
    assert (second["sex"], second["enrolled_on"], second["site_id"]) == ("1958", "902", "2025")
    assert nowhere(wh, capfd, r, ["90271", "90272", "1958-03-17", "1932-05-06", "90273"]) == []


def test_identifiers_in_free_text_are_redacted_and_flagged(tmp_path, wh, capfd):
    term = f"nausea after dose; {NAME} ssn {SSN} call {PHONE} or {EMAIL}"

    def ae(rows):
        rows[0]["term"] = term
        rows.append({**rows[0], "ae_id": "E2", "severity": "awful"})  # quarantined, with the same term

    def site(rows):
        rows[1]["site_id"] = f"clinic of Dr X {PHONE}"
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(adverse_events=ae, patients=site))), warehouse=wh,
                      reject_threshold=1.0)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT term FROM core.adverse_events") == [
        (f"nausea after dose; {NAME} ssn [redacted] call [redacted] or [redacted]",)]
    assert query(wh, "SELECT site_id FROM core.patients WHERE site_id <> 'north'") == [("clinic of Dr X [redacted]",)]
    assert query(wh, "SELECT list_sort(flatten(list(warnings))) FROM core.adverse_events")[0][0] == [
        "adverse_events.term.identifier"]
    assert "patients.site_id.identifier" in query(wh, "SELECT flatten(list(warnings)) FROM core.patients")[0][0]
    (raw,) = query(wh, "SELECT raw_values FROM ops.quarantine WHERE table_name = 'adverse_events'")[0]
    assert "[redacted]" in json.loads(raw)["term"]
    assert nowhere(wh, capfd, r, [SSN, PHONE, "013-7789", EMAIL]) == []


def test_header_without_required_columns_rejects_without_naming_its_values(tmp_path, wh, capfd):
    """A patients file that starts with a data row: its values were reported as dropped columns."""
    data = csv_bytes(BASE["patients"]).split(b"\n", 1)[1]
    folder = write_export(tmp_path / "x", raw_files={"patients": data}, rows_override={"patients": 1})
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and "[rule bundle.header]" in r["reason"]
    assert "header lacks required column(s) patient_id, enrolled_on" in r["reason"]
    assert query(wh, "SELECT registry_id, status, dropped_columns FROM ops.loads") == [
        ("test-registry", "rejected", "{}")]
    assert nowhere(wh, capfd, r, ["MRN-1001", "1970-04-02"]) == []


@pytest.mark.parametrize("field,value", [("export_id", NAME), ("mode", EMAIL), ("exported_at", PHONE),
                                         ("contract", SSN)])
def test_bad_manifest_values_are_not_repeated(tmp_path, wh, capfd, field, value):
    folder = write_export(tmp_path / "x", manifest_overrides={field: value})
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and f"bundle.{field}" in r["reason"]
    registry, export = query(wh, "SELECT registry_id, export_id FROM ops.loads")[0]
    assert registry == "test-registry" and (field != "export_id" or export == folder.name)
    assert nowhere(wh, capfd, r, [value]) == []


def test_damaged_zip_is_rejected_and_leaves_nothing_behind(tmp_path, wh):
    bad = tmp_path / "half-copied.zip"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), "outcomes-zip-*")))
    r = ingest_export(str(bad), warehouse=wh)
    assert r["status"] == "rejected" and "[rule bundle.zip]" in r["reason"]
    assert set(glob.glob(os.path.join(tempfile.gettempdir(), "outcomes-zip-*"))) <= before


def test_values_that_once_crashed_the_flow_break_rules_instead(tmp_path, wh):
    def patients(rows):
        rows.append({**rows[0], "patient_id": "MRN-1003", "birth_date": "", "birth_year": "999999999"})

    def sessions(rows):
        rows.append({**rows[1], "session_id": "S3", "dose_mg": "1e999"})

    def assessments(rows):
        rows.append({**rows[0], "assessment_id": "A9", "instrument": "QIDS_SR16", "total_score": "10",
                     "item_scores": ";".join(["2000000000"] * 16)})
    t = tables_with(patients=patients, sessions=sessions, assessments=assessments)
    r = ingest_export(str(write_export(tmp_path / "x", t)), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded"
    assert {"patients.birth_year.not_future", "sessions.dose_mg.type", "assessments.item_scores.format"} <= set(
        r["rules_broken"])
    assert query(wh, "SELECT count(*) FROM core.sessions WHERE NOT isfinite(dose_mg)") == [(0,)]


def test_unexpected_error_is_a_rejection_that_repeats_no_value(tmp_path, wh, capfd, monkeypatch):
    """A DuckDB error quotes the value it failed on; the step's error leaves it out, the export is
    recorded as rejected (the batch goes on), and once the cause is gone it loads."""
    import transforms.split as split

    real = split.collect_table

    def broken(con, table, source_file):
        if table == "sessions":
            raise duckdb.ConversionException(f"Could not convert string '{NAME}' to INT32 at {SSN}")
        return real(con, table, source_file)
    monkeypatch.setattr(split, "collect_table", broken)
    folder = write_export(tmp_path / "x")
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected"
    assert r["reason"].startswith("step validate failed: ConversionException: ")
    assert "nothing loaded" in r["reason"]
    assert nowhere(wh, capfd, r, [NAME, SSN]) == []
    assert query(wh, "SELECT count(*) FROM core.sessions") == [(0,)]
    monkeypatch.setattr(split, "collect_table", real)
    assert ingest_export(str(folder), warehouse=wh)["status"] == "loaded"


def test_transient_error_fails_the_run_for_a_retry(tmp_path, wh, monkeypatch):
    import transforms.split as split
    from transforms.redaction import StepFailed

    def locked(con, table, source_file):
        raise duckdb.IOException(f"Could not set lock on file '{NAME}.duckdb'")
    monkeypatch.setattr(split, "collect_table", locked)
    with pytest.raises(StepFailed, match="step validate failed: IOException") as e:
        ingest_export(str(write_export(tmp_path / "x")), warehouse=wh)
    assert NAME not in str(e.value)
    assert query(wh, "SELECT count(*) FROM ops.loads") == [(0,)]


def test_a_rejected_export_logs_one_line_not_a_traceback(tmp_path, wh, caplog):
    folder = write_export(tmp_path / "x")
    with open(folder / "labs.csv", "ab") as fh:
        fh.write(b"L9,MRN-1001,2025-01-11,ALT,30,U/L,40\n")
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and "[rule bundle.sha256]" in r["reason"]
    assert "sha256 differs from the manifest" in caplog.text
    assert [r.getMessage() for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()] == []


def test_parquet_as_pandas_writes_it_loads_like_csv(tmp_path, wh):
    """Whole numbers with gaps come as DOUBLE (2.0, NaN for missing), 0/1 flags as BOOLEAN: the
    values the contract asks for, in the writer's types. They load as the CSV of the same rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    csv_wh = str(tmp_path / "csv.duckdb")
    assert ingest_export(str(write_export(tmp_path / "c")), warehouse=csv_wh)["status"] == "loaded"
    folder = write_export(tmp_path / "p", fmt="parquet")
    s = BASE["sessions"]
    num = lambda col: pa.array([float(r[col]) if r.get(col) else float("nan") for r in s], pa.float64())  # noqa: E731
    typed = pa.table({"session_id": [r["session_id"] for r in s], "patient_id": [r["patient_id"] for r in s],
                      "session_start": [r["session_start"] for r in s], "drug": [r["drug"] for r in s],
                      "route": [r["route"] for r in s], "dose_mg": num("dose_mg"), "devices": num("devices"),
                      "setting": [r["setting"] for r in s], "monitoring_minutes": num("monitoring_minutes"),
                      "dose_mg_per_kg": num("dose_mg_per_kg"), "weight_kg": num("weight_kg"),
                      "infusion_minutes": num("infusion_minutes")})
    ae = BASE["adverse_events"]
    typed_ae = pa.table({k: [r.get(k) for r in ae] for k in ae[0] if k != "serious"} |
                        {"serious": pa.array([r["serious"] == "1" for r in ae], pa.bool_())})
    for name, t in (("sessions", typed), ("adverse_events", typed_ae)):
        pq.write_table(t, folder / f"{name}.parquet")
    rehash(folder)
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "loaded" and sum(c["quarantined"] for c in r["tables"].values()) == 0
    cols = "session_id, dose_mg, devices, monitoring_minutes, infusion_minutes, weight_kg"
    assert query(wh, f"SELECT {cols} FROM core.sessions ORDER BY 1") == query(
        csv_wh, f"SELECT {cols} FROM core.sessions ORDER BY 1")
    assert query(wh, "SELECT serious FROM core.adverse_events") == [(False,)]


def test_identifier_patterns_found_by_the_session_10_review_reach_nothing(tmp_path, wh, capfd):
    """Forms the first pattern missed (undashed and spaced SSNs, bare phone numbers, IP addresses,
    MRNs, other URL schemes, host names), in a lab's unit and test (no rule read them), a file name
    (kept as source_file on every row) and a column name outside the contract."""
    plants = ["611223344", "611 22 3344", "6025550188", "10.44.55.66", "MRN-4455667", "ftp://leak.example/x",
              "leak-site.example.com", "ed@plant-unit.example"]

    def labs(rows):
        rows[0]["unit"] = f"U/L {plants[7]} {plants[0]}"
        rows[0]["www.hdrurl-leak.example"] = "x"  # a column outside the contract, named like a host

    def ae(rows):
        rows[0]["term"] = f"nausea; {plants[1]} {plants[2]} {plants[3]} {plants[4]} {plants[5]} {plants[6]}"
    folder = write_export(tmp_path / "x", tables_with(labs=labs, adverse_events=ae))
    (folder / "labs.csv").rename(folder / "labs from pat.plantsrc@example.org.csv")
    m = json.loads((folder / "manifest.json").read_text())
    next(f for f in m["files"] if f["table"] == "labs")["path"] = "labs from pat.plantsrc@example.org.csv"
    (folder / "manifest.json").write_text(json.dumps(m))
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT DISTINCT source_file FROM core.labs") == [
        ("(file name not shown: not letters, digits and . _ - /)",)]
    assert "labs.unit.identifier" in query(wh, "SELECT flatten(list(warnings)) FROM core.labs")[0][0]
    assert r["dropped_columns"]["labs"] == ["column 8 (its name is not shown)"]
    assert nowhere(wh, capfd, r, [*plants, "plantsrc@example.org", "hdrurl-leak"]) == []


def test_a_persons_name_as_a_header_is_repeated_nowhere(tmp_path, wh, capfd):
    """A name typed as a header passed as a column name (spaces were allowed): it was listed as a
    dropped column and quoted in a duplicate-header rejection (privacy review, session 16)."""
    def labs(rows):
        rows[0]["Ophelia Marchbanks"] = "x"
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(labs=labs))), warehouse=wh)
    assert r["status"] == "loaded" and r["dropped_columns"] == {"labs": ["column 8 (its name is not shown)"]}
    header = list(BASE["sessions"][1]) + ["Ivy Quillfeather", "IVY QUILLFEATHER "]
    folder = write_export(tmp_path / "y", raw_files={"sessions": csv_bytes(BASE["sessions"], header)},
                          rows_override={"sessions": 2}, export_id="2025-02-28T23-00-00Z")
    r2 = ingest_export(str(folder), warehouse=wh)
    assert r2["status"] == "rejected" and "columns 12 and 13 have the same name (not shown)" in r2["reason"]
    assert query(wh, "SELECT dropped_columns FROM ops.loads ORDER BY load_id") == [
        ('{"labs": ["column 8 (its name is not shown)"]}',), ("{}",)]
    needles = ["Ophelia Marchbanks", "ophelia marchbanks", "Ivy Quillfeather", "ivy quillfeather", "IVY QUILLFEATHER"]
    assert nowhere(wh, capfd, {"loaded": r, "rejected": r2}, needles) == []


def test_a_file_or_export_id_holding_an_identifier_is_not_repeated_when_rejected(tmp_path, wh, capfd):
    folder = write_export(tmp_path / "x", manifest_overrides={"export_id": "jane.roe.example.com"})
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and "bundle.export_id" in r["reason"]
    folder = write_export(tmp_path / "y")
    m = json.loads((folder / "manifest.json").read_text())
    m["files"].append({"table": "notes", "path": "notes/nina.plantfile@example.org 622-33-4455.csv",
                       "sha256": "0" * 64, "rows": 1})
    (folder / "manifest.json").write_text(json.dumps(m))
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected" and "bundle.table" in r["reason"] and "file name not shown" in r["reason"]
    assert nowhere(wh, capfd, r, ["jane.roe", "nina.plantfile", "622-33-4455"]) == []


def test_a_malformed_line_keys_the_id_of_a_patient_only_the_warehouse_knows(tmp_path, wh, capfd):
    """An incremental export without that patient's rows: the id, shifted into another field of a
    broken line, was kept as sent (privacy review, session 10); it is keyed when its key is a
    patient of the registry's."""
    import copy

    base = copy.deepcopy(BASE)
    for rows in base.values():
        for row in rows:
            if "patient_id" in row:
                row["patient_id"] = row["patient_id"].replace("MRN-", "PX")  # no identifier pattern: only keying hides it
    r = ingest_export(str(write_export(tmp_path / "x", base)), warehouse=wh)
    assert r["status"] == "loaded"
    header = list(base["sessions"][0]) + [c for c in base["sessions"][1] if c not in base["sessions"][0]]
    good = csv_bytes([s for s in base["sessions"] if s["patient_id"] == "PX1001"], header).decode()
    bad = ["S9", "PX1002", "2025-02-12T10:00:00Z", "ketamine", "iv"]  # too few fields, the id in its place
    shifted = ["S8", "2025-02-12T10:00:00Z", "PX1002", "ketamine", "iv"]  # and shifted into session_start
    lines = good + "".join(",".join(row) + "\n" for row in (bad, shifted))
    folder = write_export(tmp_path / "y", {"sessions": []}, raw_files={"sessions": lines.encode()},
                          export_id="2025-02-28T23-00-00Z", exported_at="2025-02-28T23:00:00Z", mode="incremental",
                          rows_override={"sessions": 3})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["sessions"]["malformed"] == 2
    kept = [json.loads(v) for (v,) in query(
        wh, "SELECT raw_values FROM ops.quarantine WHERE rule = 'sessions.row.malformed' ORDER BY source_row")]
    (key,) = query(wh, "SELECT patient_key FROM core.sessions WHERE session_id = 'S2'")[0]
    assert kept[0]["patient_id"] == key and kept[1]["session_start"] == key and kept[1]["session_id"] == "S8"
    assert nowhere(wh, capfd, r, ["PX1002"]) == []


def test_a_line_swallowed_by_an_unclosed_quote_keeps_no_raw_patient_id(tmp_path, wh, capfd):
    """An unclosed quote makes one malformed value of the lines after it, ids and all (issue 2
    review, session 10): every field inside it that is a patient id is keyed."""
    rows = copy.deepcopy(BASE["adverse_events"])
    text = csv_bytes(rows).decode().splitlines(keepends=True)
    header, first, rest = text[0], text[1], text[2:]
    broken = first.replace("felt detached", '"bitter taste', 1)
    extra = "".join(f"E{9 + i},MRN-100{1 + i % 2},,2025-01-12,dizzy,Dizziness,mild,0,possible,recovered,\n"
                    for i in range(3))
    extra = extra[:extra.rindex("dizzy")] + 'dizzy",x,y' + extra[extra.rindex("dizzy") + 5:]  # the quote closes: a field too many
    raw = header + broken + extra.replace("MRN-", "PX") + "".join(rest)
    base = copy.deepcopy(BASE)
    for t in base.values():
        for row in t:
            if "patient_id" in row:
                row["patient_id"] = row["patient_id"].replace("MRN-", "PX")
    raw = raw.replace("MRN-", "PX")
    folder = write_export(tmp_path / "x", base, raw_files={"adverse_events": raw.encode()},
                          rows_override={"adverse_events": 1})
    r = ingest_export(str(folder), warehouse=wh, reject_threshold=1.0)
    kept = [v for (v,) in query(wh, "SELECT raw_values FROM ops.quarantine WHERE rule = 'adverse_events.row.malformed'")]
    assert r["status"] == "loaded" and kept, r["reason"]
    assert nowhere(wh, capfd, r, ["PX1001", "PX1002"]) == []


def test_patient_ids_in_free_text_are_replaced(tmp_path, wh, capfd):
    """A patient id in an AE term, a lab unit or a site name is no pattern redact() knows; the key
    tells it, however it is written (case, spaces inside it, punctuation around it): a patient of
    the export, or one only the warehouse holds (a later export without patients), in loaded and
    quarantined rows alike, any quarantined column. Short numbers are never taken for ids."""
    pid, spaced = "KOR-000771", "PX 1001"  # no identifier pattern matches either

    def first(t):
        t["patients"] += [{**t["patients"][0], "patient_id": pid, "site_id": f"south {pid}"},
                          {**t["patients"][0], "patient_id": spaced},
                          {**t["patients"][0], "patient_id": "12"}]  # a registry numbering patients
        t["adverse_events"][0]["term"] = f"{pid.lower()} reported: 12 hours detached"
        t["adverse_events"].append({**t["adverse_events"][0], "ae_id": "E2", "term": f"fell; see ({pid}).",
                                    "severity": "grade 2"})  # quarantined: bad severity code
        t["adverse_events"].append({**t["adverse_events"][0], "ae_id": "E4", "term": "dizzy",
                                    "severity": pid})  # quarantined, the id in a coded column
        t["labs"][0]["unit"] = f"U/L {spaced}’s"
        return t

    r = ingest_export(str(write_export(tmp_path / "x", first(copy.deepcopy(BASE)))), warehouse=wh,
                      reject_threshold=1.0)
    assert r["status"] == "loaded" and r["tables"]["adverse_events"]["quarantined"] == 2
    assert query(wh, "SELECT term FROM core.adverse_events") == [("[redacted] reported: 12 hours detached",)]
    assert query(wh, "SELECT unit FROM core.labs") == [("U/L [redacted]’s",)]
    assert ("south [redacted]",) in query(wh, "SELECT site_id FROM core.patients")
    kept = {v["ae_id"]: v for v in (json.loads(raw) for (raw,) in query(
        wh, "SELECT raw_values FROM ops.quarantine WHERE table_name = 'adverse_events'"))}
    assert kept["E2"]["term"] == "fell; see ([redacted])." and kept["E4"]["severity"] == "[redacted]"
    rules = {r for (r,) in query(wh, "SELECT DISTINCT rule FROM ops.validation_results WHERE rows_failed > 0")}
    assert {"adverse_events.term.identifier", "labs.unit.identifier", "patients.site_id.identifier"} <= rules
    later = {"adverse_events": [{**BASE["adverse_events"][0], "ae_id": "E3", "term": f"called {pid}"}]}
    r2 = ingest_export(str(write_export(tmp_path / "y", later, export_id="2025-02-28T23-00-00Z",
                                        exported_at="2025-02-28T23:00:00Z", mode="incremental")), warehouse=wh)
    assert r2["status"] == "loaded"
    assert query(wh, "SELECT term FROM core.adverse_events WHERE ae_id = 'E3'") == [("called [redacted]",)]
    assert nowhere(wh, capfd, r, [pid, pid.lower(), spaced]) == [] and nowhere(wh, capfd, r2, [pid]) == []


@pytest.mark.parametrize("damage", ["not gzip", "cut short"])
def test_a_broken_gzip_file_rejects_the_export_naming_the_file_and_rule(tmp_path, wh, damage):
    """A .csv.gz that is no gzip (a CSV renamed) or was cut short is broken for good: reported as a
    temporary failure ('nothing recorded, try again'), it was retried forever and named no file."""
    import gzip

    folder = write_export(tmp_path / "x", fmt="csv.gz")
    f = folder / "labs.csv.gz"
    f.write_bytes(csv_bytes(BASE["labs"]) if damage == "not gzip" else gzip.compress(csv_bytes(BASE["labs"]))[:-12])
    rehash(folder)
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "rejected", r
    assert "labs.csv.gz" in r["reason"] and "[rule bundle.unreadable]" in r["reason"], r["reason"]
    assert query(wh, "SELECT status FROM ops.loads") == [("rejected",)]


def test_an_export_path_holding_an_identifier_is_stored_and_shown_redacted(tmp_path, wh, capfd):
    """A folder named after a person, a loaded and a rejected one: ops.loads.source and `ingest`'s
    output (text and --json) kept the path verbatim (privacy review, session 16); the flow still
    reads it, and the landing zone's ledger still knows the rejected one was tried."""
    from click.testing import CliRunner

    from flows.watch import identify, recorded
    from outcomes.cli import cli

    good = write_export(tmp_path / "in" / "ivy.folder@example.org 611-22-3345")
    bad = write_export(tmp_path / "in" / "rej ivy.rej@example.org 611-22-3347", export_id="2025-02-28T23-00-00Z",
                       exported_at="2025-02-28T23:00:00Z")
    (bad / "labs.csv").write_bytes((bad / "labs.csv").read_bytes() + b"L9,MRN-1002,2025-02-11,ALT,31,U/L,40\n")
    as_json = CliRunner().invoke(cli, ["ingest", str(tmp_path / "in"), "-w", wh, "--json"])
    results = json.loads(as_json.stdout)
    shown = [str(tmp_path / "in" / "[redacted] [redacted]" / good.name),
             str(tmp_path / "in" / "rej [redacted] [redacted]" / bad.name)]
    assert [(r["status"], r["source"]) for r in results] == [("loaded", shown[0]), ("rejected", shown[1])]
    as_text = CliRunner().invoke(cli, ["ingest", str(good.parent), "-w", wh])
    assert as_text.exit_code == 0 and "duplicate" in as_text.stdout, as_text.output
    assert query(wh, "SELECT source FROM ops.loads ORDER BY load_id") == [(shown[0],), (shown[1],), (shown[0],)]
    assert recorded(wh, [identify(good), identify(bad)]) == {good, bad}
    needles = ["ivy.folder", "611-22-3345", "ivy.rej", "611-22-3347"]
    assert nowhere(wh, capfd, {"json": as_json.output, "text": as_text.output}, needles) == []


def test_identifier_forms_found_by_the_session_16_review_reach_nothing(tmp_path, wh, capfd):
    """International phone numbers, SSNs with dots, MR# numbers, IPv6 addresses and obfuscated
    emails in an AE term were stored as sent (privacy review, session 16)."""
    plants = ["+47 412 34 567", "611.22.3399", "7788123", "2001:db8::7334", "leakmail"]

    def ae(rows):
        rows[0]["term"] = ("dizzy; call +47 412 34 567; ssn 611.22.3399; MR# 7788123; ip 2001:db8::7334; "
                           "ivy(at)leakmail(dot)org; 0.5 mg/kg at 09:40")
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(adverse_events=ae))), warehouse=wh)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT term FROM core.adverse_events") == [
        ("dizzy; call [redacted]; ssn [redacted]; [redacted]; ip [redacted]; [redacted]; 0.5 mg/kg at 09:40",)]
    assert nowhere(wh, capfd, r, plants) == []


def test_a_persons_name_in_a_file_name_is_stored_nowhere(tmp_path, wh, capfd):
    """The manifest's path became every row's source_file with only identifier patterns redacted,
    so 'labs Wigglesworth Penelope.csv' was stamped on each lab (privacy review, session 16). A
    plain name (letters, digits and . _ - /) stays as it is."""
    folder = write_export(tmp_path / "x")
    (folder / "labs.csv").rename(folder / "labs Wigglesworth Penelope.csv")
    m = json.loads((folder / "manifest.json").read_text())
    next(f for f in m["files"] if f["table"] == "labs")["path"] = "labs Wigglesworth Penelope.csv"
    (folder / "manifest.json").write_text(json.dumps(m))
    r = ingest_export(str(folder), warehouse=wh)
    assert r["status"] == "loaded"
    assert query(wh, "SELECT DISTINCT source_file FROM core.labs") == [
        ("(file name not shown: not letters, digits and . _ - /)",)]
    assert query(wh, "SELECT DISTINCT source_file FROM core.sessions") == [("sessions.csv",)]
    assert nowhere(wh, capfd, r, ["Wigglesworth", "Penelope"]) == []
