"""The `outcomes synth` click command."""
from __future__ import annotations

import json

from click.testing import CliRunner

from synth.command import synth_command


def test_summary_lines(tmp_path):
    r = CliRunner().invoke(synth_command, ["--registry", "north", "--patients", "30", "--out", str(tmp_path),
                                           "--months", "3", "--seed", "4"])
    assert r.exit_code == 0, r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("2025-01-31T23-00-00Z full ") and "patients=" in lines[0] and "labs=" in lines[0]
    assert " incremental " in lines[1]


def test_json_output(tmp_path):
    r = CliRunner().invoke(synth_command, ["--registry", "north", "--patients", "20", "--out", str(tmp_path),
                                           "--months", "2", "--file-format", "csv.gz", "--bad-rows", "0.1",
                                           "--start", "2026-03-15", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [d["export_id"] for d in data] == ["2026-03-31T23-00-00Z", "2026-04-30T23-00-00Z"]
    assert set(data[0]["rows"]) == {"patients", "sessions", "vitals", "assessments", "adverse_events", "labs"}
    assert (tmp_path / "2026-03-31T23-00-00Z" / "patients.csv.gz").exists()
    assert (tmp_path / "_injected.jsonl").exists()


def test_usage_errors_exit_2(tmp_path):
    run = CliRunner().invoke
    base = ["--patients", "5", "--out", str(tmp_path)]
    assert run(synth_command, ["--registry", "Bad_ID", *base]).exit_code == 2
    assert run(synth_command, ["--registry", "ok", *base, "--file-format", "xlsx"]).exit_code == 2
    assert run(synth_command, ["--registry", "ok", *base, "--bad-rows", "0.7"]).exit_code == 2
    assert run(synth_command, ["--registry", "ok", "--patients", "0", "--out", str(tmp_path)]).exit_code == 2
    assert run(synth_command, ["--registry", "ok", *base, "--start", "01/02/2025"]).exit_code == 2
    assert run(synth_command, ["--patients", "5", "--out", str(tmp_path)]).exit_code == 2


def test_help_names_the_instruments_a_redcap_export_leaves_out():
    """--help promised that the three formats hold the same facts; REDCap has no form for some."""
    from synth.cohort import INSTRUMENTS
    from synth.formats.redcap import FORM_OF

    left_out = set(INSTRUMENTS) - set(FORM_OF)
    assert left_out  # GAD7, QIDS_SR16, CSSRS_IDEATION today
    text = " ".join(CliRunner().invoke(synth_command, ["--help"]).output.split())
    for code in left_out:
        assert code in text, (code, text)


def test_out_must_be_new_or_empty(tmp_path):
    """A second series written into the same folder mixed two cohorts, which `ingest DIR` loads together."""
    out = tmp_path / "syn"
    args = ["--registry", "x", "--patients", "5", "--out", str(out)]
    assert CliRunner().invoke(synth_command, [*args, "--months", "2"]).exit_code == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    r = CliRunner().invoke(synth_command, [*args, "--months", "3", "--seed", "3", "--start", "2024-11-01"])
    assert r.exit_code == 2 and f"Invalid value for '--out': {out} is not empty" in r.output, r.output
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    for fmt in ("redcap", "fhir"):  # these wrote a scratch folder into it first
        assert CliRunner().invoke(synth_command, [*args, "--format", fmt]).exit_code == 2
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    (tmp_path / "empty").mkdir()
    assert CliRunner().invoke(synth_command, [*args[:-1], str(tmp_path / "empty"), "--months", "1"]).exit_code == 0
