"""The export folders follow export-contract.md §2-3."""
from __future__ import annotations

import hashlib
import re

from synth.schema import COLUMNS, IDENTIFIER_COLUMNS
from synth_checks import manifests, read_lines


def test_manifests_are_valid(clean_registry):
    ms = manifests(clean_registry)
    assert len(ms) == 6
    assert [m["mode"] for m in ms] == ["full"] + ["incremental"] * 4 + ["full"]
    assert [m["export_id"] for m in ms][:2] == ["2025-01-31T23-00-00Z", "2025-02-28T23-00-00Z"]
    for m in ms:
        assert set(m) - {"_folder"} == {"contract", "registry_id", "export_id", "exported_at", "mode", "files"}
        assert m["contract"] == "ketamine-outcomes-export/1"
        assert m["registry_id"] == "north-clinic"
        assert m["_folder"].name == m["export_id"]
        assert m["exported_at"] == re.sub(r"T(\d\d)-(\d\d)-(\d\d)Z", r"T\1:\2:\3Z", m["export_id"])
        assert [f["table"] for f in m["files"]] == list(COLUMNS)
        for f in m["files"]:
            assert set(f) == {"table", "path", "sha256", "rows"}
            assert f["path"] == f"{f['table']}.csv"
            data = (m["_folder"] / f["path"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == f["sha256"]
            assert f["rows"] == data.count(b"\n") - 1            # one line per record, header excluded
            assert b"\r" not in data
            header = data.split(b"\n", 1)[0].decode()
            assert header.split(",") == list(COLUMNS[f["table"]])


def test_csv_fields_and_formats(clean_registry):
    m = manifests(clean_registry)[-1]
    folder = m["_folder"]
    for f in m["files"]:
        for _, fields in read_lines(folder / f["path"]):
            assert len(fields) == len(COLUMNS[f["table"]])
    patients = [dict(zip(COLUMNS["patients"], x)) for _, x in read_lines(folder / "patients.csv")]
    assert all(re.fullmatch(r"KOR-\d{6}", p["patient_id"]) for p in patients)
    assert all(re.fullmatch(r"\d{5}", p["zip"]) for p in patients)
    assert any(p["zip"].startswith("0") for p in patients)           # leading zeros survive
    assert all(all(p[c] for c in IDENTIFIER_COLUMNS) for p in patients)
    assert all(re.fullmatch(r"9\d\d-\d\d-\d{4}", p["ssn"]) for p in patients)
    assert any("," in p["street_address"] for p in patients)          # needs RFC 4180 quoting
    raw = (folder / "adverse_events.csv").read_text()
    assert '"""out of body"" feeling"' in raw or '"felt sick, nauseated"' in raw
    sessions = [dict(zip(COLUMNS["sessions"], x)) for _, x in read_lines(folder / "sessions.csv")]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s["session_start"]) for s in sessions)


def test_clean_rows_break_no_rule(clean_registry):
    from synth_checks import Validator
    v = Validator()
    for m in manifests(clean_registry):
        bad = {k: x for k, x in v.check_export(m).items() if x}
        assert not bad, (m["export_id"], list(bad.items())[:5])
