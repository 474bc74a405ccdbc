"""`outcomes synth --bad-rows` in every format, and `outcomes ingest --adapter` on folders of exports."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from outcomes.cli import cli

pytestmark = pytest.mark.e2e


def invoke(*args):
    res = CliRunner().invoke(cli, list(args))
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


@pytest.mark.parametrize("fmt", ["redcap", "fhir"])
def test_synth_bad_rows_in_other_formats_are_quarantined(tmp_path, fmt):
    out = tmp_path / "out"
    made = invoke("synth", "--registry", "r1", "--patients", "20", "--months", "1", "--out", str(out),
                  "--format", fmt, "--bad-rows", "0.05", "--json")
    assert made.exit_code == 0, made.output
    # the log where --help says, and no scratch folder left behind
    assert sorted(p.name for p in out.iterdir()) == ["2025-01-31T23-00-00Z", "_injected.jsonl"]
    log = [json.loads(line) for line in (out / "_injected.jsonl").read_text().splitlines()]
    assert log and all(r["format"] == fmt and "native_line" in r for r in log)
    assert not any(r["rule"].endswith(".row.malformed") for r in log)  # a broken CSV line does not convert
    res = invoke("ingest", str(out), "--registry", "r1", "--threshold", "1", "-w", str(tmp_path / "w.duckdb"),
                 "--json")
    assert res.exit_code == 0, res.output
    (r,) = json.loads(res.stdout)
    assert r["status"] == "loaded"
    assert sum(c["quarantined"] for c in r["tables"].values()) > 0
    # a converted value may fail a neighbouring rule (a broken time in FHIR is a missing one), so
    # only most of the logged rules must be what the pipeline saw
    seen = set(r["rules_broken"])
    assert len(seen & {x["rule"] for x in log}) >= len(seen) // 2


def test_ingest_with_adapter_finds_exports_in_folders(tmp_path):
    exports = tmp_path / "exports"
    assert invoke("synth", "--registry", "r2", "--patients", "8", "--months", "2", "--out", str(exports)).exit_code == 0
    wh = str(tmp_path / "w.duckdb")
    res = invoke("ingest", str(exports), "--adapter", "kor", "-w", wh, "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["registry_id"], r["export_id"], r["status"]) for r in rows] == [
        ("r2", "2025-01-31T23-00-00Z", "loaded"), ("r2", "2025-02-28T23-00-00Z", "loaded")]
    # exports of another format in the folder are skipped (with a note), not forced through the adapter
    res = CliRunner().invoke(cli, ["ingest", str(exports), "--adapter", "fhir", "-w", wh, "--json"])
    assert res.exit_code == 2 and "no exports found" in res.output
    assert "skipped 2 kor exports" in res.stderr
    # a folder with no export in it: nothing recorded
    (tmp_path / "empty").mkdir()
    res = invoke("ingest", str(tmp_path / "empty"), "--adapter", "kor", "-w", wh)
    assert res.exit_code == 2 and "no exports found" in res.output
    status = json.loads(invoke("status", "-w", wh, "--json").stdout)
    assert [x["status"] for x in status["loads"]] == ["loaded", "loaded"]


def test_a_transient_failure_is_status_failed_and_the_others_load(tmp_path, monkeypatch):
    """A lock, memory or disk error records nothing: the export says `failed` (exit 1), with the
    step and no value, and the next export of the batch still loads."""
    import duckdb

    import flows.ingest as fi
    from transforms.redaction import StepFailed

    out = tmp_path / "reg"
    assert invoke("synth", "--registry", "r1", "--patients", "15", "--months", "2", "--out", str(out)).exit_code == 0
    first = sorted(p for p in out.iterdir() if p.is_dir())[0]
    real = fi.ingest_in_process

    def flaky(source, **kw):
        if source == str(first):
            raise StepFailed("load", duckdb.IOException("Could not set lock on file 'w.duckdb'"))
        return real(source, **kw)
    monkeypatch.setattr(fi, "ingest_in_process", flaky)
    res = invoke("ingest", str(out), "-w", str(tmp_path / "w.duckdb"), "--threshold", "1", "--json")
    assert res.exit_code == 1
    results = json.loads(res.stdout)
    assert [r["status"] for r in results] == ["failed", "loaded"]
    assert results[0]["reason"].startswith("step load failed: IOException: Could not set lock on file '…'")


@pytest.mark.parametrize("file_format", ["csv", "csv.gz", "parquet"])
def test_synth_sidecar_names_the_rows_and_rules_ingest_quarantines(tmp_path, file_format):
    """Every `_injected.jsonl` entry is a row of ops.quarantine: same export, table, source_row
    (`line`, and `first_line` of a unique pair) and exactly the logged rule, in every kor file
    format (CSV lines, header = 1; Parquet record numbers); no other row is quarantined. Once
    vitals.*.range rules (alert: the row loads) were logged, and Parquet rows numbered as CSV lines."""
    import collections

    import duckdb

    args = ["synth", "--registry", "r1", "--patients", "60", "--months", "2", "--seed", "11",
            "--bad-rows", "0.1", "--file-format", file_format]
    for out in ("a", "b"):
        assert invoke(*args, "--out", str(tmp_path / out)).exit_code == 0
    files = {out: {p.relative_to(tmp_path / out): p.read_bytes() for p in sorted((tmp_path / out).rglob("*"))
                   if p.is_file()} for out in ("a", "b")}
    assert files["a"] == files["b"]                             # same seed, same bytes
    log = [json.loads(x) for x in (tmp_path / "a" / "_injected.jsonl").read_text().splitlines()]
    assert len(log) > 100
    assert any(r["rule"].startswith("vitals.") and r["rule"].endswith(".range") for r in log)
    logged = collections.defaultdict(set)
    for r in log:
        for line in (r["line"], r.get("first_line")):
            if line is not None:
                logged[(r["export_id"], r["table"], line)].add(r["rule"])

    wh = str(tmp_path / "w.duckdb")
    res = invoke("ingest", str(tmp_path / "a"), "--registry", "r1", "--threshold", "1", "-w", wh, "--json")
    assert res.exit_code == 0, res.output
    assert [r["status"] for r in json.loads(res.stdout)] == ["loaded", "loaded"]
    with duckdb.connect(wh, read_only=True) as con:
        rows = con.execute("SELECT export_id, table_name, source_row, rule FROM ops.quarantine").fetchall()
    quarantined = collections.defaultdict(set)
    for export_id, table, row, rule in rows:
        quarantined[(export_id, table, row)].add(rule)
    assert {k: v for k, v in logged.items() if quarantined.get(k) != v} == {}
    assert quarantined.keys() == logged.keys()
