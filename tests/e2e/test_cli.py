"""The command line: machine output, exit codes that mean something, a read-only SQL surface."""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from exports import BASE, write_export
from outcomes.cli import cli

pytestmark = pytest.mark.e2e


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "outcomes.cli", *args], capture_output=True, text=True, env=env)


@pytest.fixture
def loaded(tmp_path):
    wh = str(tmp_path / "wh.duckdb")
    root = tmp_path / "exports"
    write_export(root, export_id="e1", exported_at="2025-01-31T23:00:00Z")
    result = CliRunner().invoke(cli, ["ingest", str(root), "--warehouse", wh, "--json"])
    assert result.exit_code == 0, result.output
    return wh, root, json.loads(result.stdout)


def test_ingest_json_and_exit_codes(tmp_path, loaded):
    wh, root, out = loaded
    assert [(r["registry_id"], r["export_id"], r["status"]) for r in out] == [("test-registry", "e1", "loaded")]
    # again: a duplicate is not a failure
    again = CliRunner().invoke(cli, ["ingest", str(root), "--warehouse", wh, "--json"])
    assert again.exit_code == 0 and json.loads(again.stdout)[0]["status"] == "duplicate"
    # a rejected export makes the exit code 1, and the text output says why
    bad = write_export(tmp_path / "bad", export_id="e2", exported_at="2025-02-28T23:00:00Z")
    (bad / "labs.csv").write_text("lab_id,patient_id\n")
    res = CliRunner().invoke(cli, ["ingest", str(bad), "--warehouse", wh])
    assert res.exit_code == 1
    assert "rejected" in res.output and "labs.csv" in res.output
    # usage errors are 2
    assert CliRunner().invoke(cli, ["ingest", "--warehouse", wh]).exit_code == 2
    assert CliRunner().invoke(cli, ["ingest", str(tmp_path / "nope"), "--warehouse", wh]).exit_code == 2


def test_ingest_without_key_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY")
    res = CliRunner().invoke(cli, ["ingest", str(write_export(tmp_path)), "--warehouse", str(tmp_path / "w.duckdb")])
    assert res.exit_code == 2 and "no pseudonymisation key" in res.output


def test_sql_formats_and_read_only(loaded):
    wh, _, _ = loaded
    q = "SELECT session_id, drug FROM core.sessions ORDER BY session_id"
    j = run("sql", q, "--warehouse", wh, "--format", "json")
    assert j.returncode == 0 and json.loads(j.stdout) == [{"session_id": "S1", "drug": "esketamine"},
                                                          {"session_id": "S2", "drug": "ketamine"}]
    c = run("sql", q, "--warehouse", wh, "--format", "csv")
    assert c.stdout.splitlines() == ["session_id,drug", "S1,esketamine", "S2,ketamine"]
    t = run("sql", q, "--warehouse", wh)
    assert "S1" in t.stdout and "(2 rows)" in t.stdout
    for forbidden in ["DELETE FROM core.sessions", "CREATE TABLE x (a INT)",
                      f"SELECT * FROM read_csv('{BASE and __file__}')", "COPY core.sessions TO '/tmp/leak.csv'",
                      "ATTACH '/tmp/other.duckdb'", "SET enable_external_access = true"]:
        r = run("sql", forbidden, "--warehouse", wh)
        assert r.returncode == 1, forbidden
    assert run("sql", "SELECT count(*) FROM core.sessions", "--warehouse", wh).returncode == 0
    assert run("sql", "--warehouse", wh).returncode == 2


def test_sql_does_not_import_prefect(loaded):
    """It answers fast because it never imports Prefect or GX (how fast: not a test's business)."""
    wh, _, _ = loaded
    code = ("import sys; from outcomes.cli import main; sys.argv = ['outcomes', 'sql', "
            f"'SELECT 1', '--warehouse', {wh!r}]\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "assert 'prefect' not in sys.modules and 'great_expectations' not in sys.modules, 'heavy import'\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip(), "no answer printed"


def test_status_json(loaded):
    wh, _, _ = loaded
    r = run("status", "--warehouse", wh, "--json")
    data = json.loads(r.stdout)
    assert data["loads"][0]["status"] == "loaded"
    assert {"registry_id": "test-registry", "table": "sessions", "rows": 2} in data["current"]


def test_every_command_has_help():
    for args in (["--help"], ["ingest", "--help"], ["sql", "--help"], ["status", "--help"], ["synth", "--help"],
                 ["report", "--help"], ["marts", "--help"], ["key", "init", "--help"], ["migrate", "--help"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 0 and "Usage:" in res.output, args


@pytest.mark.parametrize("fmt", ["redcap", "fhir"])
def test_synth_and_ingest_other_formats_detected(tmp_path, fmt):
    """outcomes synth --format X writes a series; outcomes ingest finds and detects it, in order."""
    out = tmp_path / fmt
    made = CliRunner().invoke(cli, ["synth", "--registry", "clinic-x", "--patients", "25", "--months", "2",
                                    "--out", str(out), "--format", fmt, "--json"])
    assert made.exit_code == 0, made.output
    assert [e["format"] for e in json.loads(made.stdout)] == [fmt, fmt]
    res = CliRunner().invoke(cli, ["ingest", str(out), "--registry", "clinic-x",
                                   "--warehouse", str(tmp_path / "wh.duckdb"), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [r["status"] for r in rows] == ["loaded", "loaded"]
    assert rows[0]["exported_at"] < rows[1]["exported_at"]


def test_registry_settings_from_outcomes_toml(tmp_path, monkeypatch):
    """Without flags, ingest takes the registry's reject threshold and time zone from outcomes.toml."""
    import copy

    from whquery import query

    cfg = tmp_path / "outcomes.toml"
    cfg.write_text('[registries.test-registry]\nreject_threshold = 0.5\ntimezone = "Europe/Oslo"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(cfg))
    tables = copy.deepcopy(BASE)
    tables["vitals"][2]["sbp"] = "999"  # 1 of 3 vitals rows quarantined: over 5 %, under 50 %
    tables["sessions"][0]["session_start"] = "2025-01-10T09:00:00"  # no offset: Oslo time
    wh = str(tmp_path / "wh.duckdb")
    res = CliRunner().invoke(cli, ["ingest", str(write_export(tmp_path / "x", tables)), "--warehouse", wh, "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["status"] == "loaded"
    assert query(wh, "SELECT strftime(session_start AT TIME ZONE 'UTC', '%H:%M') FROM core.sessions "
                     "WHERE session_id = 'S1'") == [("08:00",)]
    # a flag still wins over the file
    res = CliRunner().invoke(cli, ["ingest", str(write_export(tmp_path / "y", tables, export_id="e2")),
                                   "--warehouse", wh, "--threshold", "0.05", "--json"])
    assert res.exit_code == 1 and json.loads(res.stdout)[0]["status"] == "rejected"


def test_sigterm_stops_the_temporary_prefect_server_too(tmp_path):
    """Killed with SIGTERM (systemd, a CI timeout), `outcomes ingest` unwinds like Ctrl-C: the
    temporary Prefect server it started goes with it instead of living on."""
    import os
    import signal

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    folder = write_export(tmp_path / "x")
    p = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "ingest", str(folder), "-w", str(tmp_path / "w.duckdb")],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        for line in p.stderr:  # the server is starting: now it has a child
            if "Starting temporary server" in line:
                break
        time.sleep(1.0)
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.killpg(p.pid, 0)  # anything left of its process group?
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            pytest.fail("a process of the killed command lives on (the temporary Prefect server)")
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
