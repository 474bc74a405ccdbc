"""The command line's failures: one line on stderr, exit 1 (the work failed) or 2 (usage), never a
traceback. None of these start Prefect: they fail before any flow runs, or do not use one."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from outcomes.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def run(*args, env_extra=None, cwd=None):
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           **(env_extra or {})}
    env = {k: v for k, v in env.items() if v is not None}  # None: unset
    return subprocess.run([sys.executable, "-m", "outcomes.cli", *args], capture_output=True, text=True, env=env,
                          cwd=cwd)


def one_line_error(r, code: int, needle: str) -> None:
    assert r.returncode == code, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and lines[-1].startswith("Error: ") and needle in lines[-1], r.stderr


def invoke(*args, **kw):
    res = CliRunner().invoke(cli, list(args), **kw)
    # a click exit, not an uncaught exception
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    return res


@pytest.fixture
def wh(tmp_path) -> str:
    p = str(tmp_path / "wh.duckdb")
    assert invoke("migrate", "-w", p).exit_code == 0
    return p


@pytest.fixture
def no_config(tmp_path, monkeypatch):
    """Run in an empty folder: no ./outcomes.toml, no ./data/warehouse.duckdb, no env."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OUTCOMES_CONFIG", raising=False)
    monkeypatch.delenv("OUTCOMES_WAREHOUSE", raising=False)


# 1. time zones ---------------------------------------------------------------------------------

def test_ingest_unknown_timezone_is_a_usage_error(tmp_path, no_config):
    res = invoke("ingest", str(tmp_path), "--timezone", "Mars/Olympus", "-w", str(tmp_path / "w.duckdb"))
    assert res.exit_code == 2 and "Mars/Olympus" in res.output
    assert not (tmp_path / "w.duckdb").exists()
    # DuckDB has no `localtime` although zoneinfo reads one from the system
    assert invoke("ingest", str(tmp_path), "--timezone", "localtime", "-w", str(tmp_path / "w.duckdb")).exit_code == 2


def test_unknown_timezone_in_outcomes_toml_is_a_config_error(tmp_path, no_config, monkeypatch):
    cfg = tmp_path / "outcomes.toml"
    cfg.write_text('[registries.north]\ntimezone = "Mars/Olympus"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(cfg))
    res = invoke("ingest", str(tmp_path), "-w", str(tmp_path / "w.duckdb"))
    assert res.exit_code == 2 and "unknown time zone 'Mars/Olympus'" in res.output
    res = invoke("ingest", str(tmp_path))  # the same when the warehouse comes from the file's side
    assert res.exit_code == 2 and "Mars/Olympus" in res.output


# 10. registry ids ------------------------------------------------------------------------------

def test_ingest_registry_id_is_checked_up_front(tmp_path, no_config):
    res = invoke("ingest", str(tmp_path), "--registry", "Bad Registry/../x", "-w", str(tmp_path / "w.duckdb"))
    assert res.exit_code == 2 and "[a-z0-9][a-z0-9-]{0,63}" in res.output
    assert not (tmp_path / "w.duckdb").exists()  # nothing recorded


# 3. a warehouse another process writes ---------------------------------------------------------

def test_busy_warehouse_is_one_line_exit_1(wh, tmp_path):
    from exports import write_export

    export = str(write_export(tmp_path / "export"))
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               "c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)", wh],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        for args in (["sql", "select 1"], ["status"], ["migrate"], ["ingest", export]):
            r = run(*args, "-w", wh, env_extra={"OUTCOMES_LOCK_TIMEOUT": "1"})
            one_line_error(r, 1, "warehouse is busy (locked by another process) after 1 s; try again")
    finally:
        holder.kill()
        holder.wait()


def test_ingest_usage_errors_redact_a_path_as_ops_loads_does(tmp_path, no_config):
    """A folder's name may be a person's (privacy review, session 16): not repeated to the terminal."""
    folder = tmp_path / "ivy.cli@example.org 611-22-3348"
    folder.mkdir()
    for path, adapter, said in [
            (folder / "missing", [], "[redacted] [redacted]/missing does not exist"),
            (folder / "missing", ["--adapter", "redcap"], "[redacted] [redacted]/missing does not exist"),
            (folder, ["--adapter", "kor"], "no exports found under " + str(tmp_path / "[redacted] [redacted]"))]:
        res = invoke("ingest", str(path), *adapter, "-w", str(tmp_path / "w.duckdb"))
        assert res.exit_code == 2 and said in res.output, res.output
        assert "ivy.cli" not in res.output and "611-22-3348" not in res.output
        assert not (tmp_path / "w.duckdb").exists()


# 4. files that are not warehouses --------------------------------------------------------------

def test_junk_file_is_one_line_exit_1(tmp_path):
    from exports import write_export

    junk = tmp_path / "junk.duckdb"
    junk.write_bytes(os.urandom(4096))
    for args in (["sql", "select 1"], ["migrate"], ["status"], ["ingest", str(write_export(tmp_path / "e"))]):
        one_line_error(run(*args, "-w", str(junk)), 1, "is not a DuckDB warehouse file")


@pytest.mark.parametrize("name", ["secret.csv", "x.parquet", "x.json", "x.csv.gz", "x.tsv"])
def test_data_file_names_are_refused_as_warehouses(tmp_path, no_config, name):
    target = str(tmp_path / name)
    for args in (["migrate"], ["sql", "select 1"], ["status"], ["ingest", str(tmp_path)], ["marts"]):
        res = invoke(*args, "-w", target)
        assert res.exit_code == 2 and "warehouse file name ends in .duckdb" in res.output, (args, res.output)
    assert not Path(target).exists()


def test_data_file_name_from_the_environment_is_refused(tmp_path, no_config, monkeypatch):
    monkeypatch.setenv("OUTCOMES_WAREHOUSE", str(tmp_path / "secret.csv"))
    res = invoke("migrate")
    assert res.exit_code == 2 and "OUTCOMES_WAREHOUSE" in res.output
    assert invoke("migrate", "-w", str(tmp_path / "ok.db")).exit_code == 0  # the flag wins


# 5. --limit ------------------------------------------------------------------------------------

def test_status_limit_range(wh):
    assert invoke("status", "-w", wh, "--limit", "-1").exit_code == 2
    con = duckdb.connect(wh)
    for i in range(1, 13):
        con.execute("INSERT INTO ops.loads (load_id, registry_id, export_id, adapter, status, started_at, finished_at) "
                    "VALUES (?, 'r', 'e', 'kor', 'rejected', now(), now())", [i])
    con.close()
    assert len(json.loads(invoke("status", "-w", wh, "--json").stdout)["loads"]) == 10
    assert len(json.loads(invoke("status", "-w", wh, "--json", "--limit", "0").stdout)["loads"]) == 12
    assert len(json.loads(invoke("status", "-w", wh, "--json", "--limit", "3").stdout)["loads"]) == 3


# 6. paths that cannot be created ---------------------------------------------------------------

def test_uncreatable_paths_are_one_line_errors():
    one_line_error(run("key", "init", "--path", "/proc/nope/key"), 1, "/proc/nope/key")
    one_line_error(run("migrate", "-w", "/proc/nope/x.duckdb"), 1, "/proc/nope")


# 9. one warehouse resolution for every command -------------------------------------------------

def test_every_command_resolves_the_warehouse_alike(tmp_path, no_config, monkeypatch):
    toml_wh, env_wh, flag_wh = tmp_path / "toml.duckdb", tmp_path / "env.duckdb", tmp_path / "flag.duckdb"
    cfg = tmp_path / "outcomes.toml"
    cfg.write_text(f'warehouse = "{toml_wh}"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(cfg))
    monkeypatch.setenv("OUTCOMES_WAREHOUSE", str(env_wh))
    assert invoke("migrate").stdout.strip() == f"warehouse ready: {toml_wh}"  # the file wins over the env
    assert not env_wh.exists()
    assert invoke("sql", "SELECT 42 AS x", "--format", "csv").stdout == "x\n42\n"
    assert invoke("status", "--json").exit_code == 0
    assert invoke("marts", "--json").exit_code == 0
    con = duckdb.connect(str(toml_wh), read_only=True)
    assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'marts'").fetchone()[0] > 0
    con.close()
    res = invoke("report", "--month", "2025-01", "--as-of", "7", "--out", str(tmp_path / "r"))
    assert res.exit_code == 1 and "no such load" in res.output  # it read the file's warehouse
    # --warehouse wins over both
    assert invoke("migrate", "-w", str(flag_wh)).stdout.strip() == f"warehouse ready: {flag_wh}"
    res = invoke("sql", "SELECT 1", "-w", str(tmp_path / "missing.duckdb"))
    assert res.exit_code == 1 and "missing.duckdb" in res.output
    # without the file's setting, the environment
    cfg.write_text("")
    assert invoke("migrate").stdout.strip() == f"warehouse ready: {env_wh}"


def test_broken_outcomes_toml_is_a_usage_error_unless_the_flag_is_given(tmp_path, no_config, monkeypatch):
    cfg = tmp_path / "outcomes.toml"
    cfg.write_text("warehouse = [\n")
    monkeypatch.setenv("OUTCOMES_CONFIG", str(cfg))
    res = invoke("status")
    assert res.exit_code == 2 and "not valid TOML" in res.output
    assert invoke("migrate", "-w", str(tmp_path / "w.duckdb")).exit_code == 0


# 17. small ones --------------------------------------------------------------------------------

def test_status_json_has_no_internal_keys(wh):
    data = json.loads(invoke("status", "-w", wh, "--json").stdout)
    assert set(data) == {"loads", "current", "quarantine", "unsent_notifications", "parked"}


def test_sql_json_nests_json_columns(wh):
    q = """SELECT '{"a": [1, 2]}'::JSON AS j, '{"a": 1}' AS text_col, 3 AS n"""
    assert json.loads(invoke("sql", q, "-w", wh, "--format", "json").stdout) == [
        {"j": {"a": [1, 2]}, "text_col": '{"a": 1}', "n": 3}]
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines()[1].startswith('"{""a"": [1, 2]}"')


def test_report_as_of(wh, tmp_path):
    res = invoke("report", "--month", "2025-01", "--as-of", "999", "-w", wh, "--out", str(tmp_path / "r"))
    assert res.exit_code == 1 and "--as-of 999: no such load" in res.output
    assert invoke("report", "--month", "2025-01", "--as-of", "-1", "-w", wh).exit_code == 2
    assert invoke("report", "--month", "2025-01", "--as-of", "0", "-w", wh).exit_code == 2


@pytest.mark.parametrize("command", ["", "key", "report", "marts", "status", "synth", "sql", "ingest", "migrate",
                                     "key init", "serve"])
def test_help_lists_exit_codes(command):
    res = invoke(*command.split(), "--help")
    assert res.exit_code == 0 and "Exit 0" in res.output.replace("\n", " "), res.output


def test_report_help_names_every_json_key():
    res = invoke("report", "--help")
    for key in ("html", "pdf", "data", "figures", "suppressed", "report_id"):  # what `report --json` prints
        assert f'"{key}"' in res.output, res.output


# a Prefect API that does not answer ------------------------------------------------------------

def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_prefect_api_is_one_line_exit_1(tmp_path):
    """PREFECT_API_URL naming a server that is down: one line naming it, not Prefect's traceback."""
    from exports import write_export

    api = f"http://127.0.0.1:{_closed_port()}/api"
    export = str(write_export(tmp_path / "export"))
    env = {"PREFECT_API_URL": api, "OUTCOMES_PSEUDONYM_KEY": "k" * 32, "PREFECT_HOME": str(tmp_path / "prefect")}
    r = run("ingest", export, "-w", str(tmp_path / "w.duckdb"), env_extra=env)
    one_line_error(r, 1, f"cannot reach the Prefect API at {api}")
    r = run("serve", env_extra=env, cwd=tmp_path)
    one_line_error(r, 1, f"cannot reach the Prefect API at {api}")


def test_serve_warns_of_a_key_file_open_to_others_as_ingest_does(tmp_path, no_config, monkeypatch):
    """ingest warned of a key file group or others can read (whoever reads it links keys back to
    ids); serve, which runs for months on that key, said nothing."""
    import logging

    import flows.serve

    started = []
    monkeypatch.setattr(flows.serve, "run_service", lambda **kw: started.append(kw))
    monkeypatch.setattr(logging, "basicConfig", lambda **kw: None)  # the service's, on this test's stderr
    key = tmp_path / "pseudonym.key"
    key.write_text("k" * 40 + "\n")
    key.chmod(0o644)
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY")
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY_FILE", str(key))
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    res = invoke("serve")
    assert res.exit_code == 0 and len(started) == 1, res.output
    assert res.stderr == f"warning: the pseudonymisation key file {key} is open to group or others (mode 0644): chmod 600 it\n"
    key.chmod(0o600)
    res = invoke("serve")
    assert res.exit_code == 0 and len(started) == 2 and res.stderr == ""


def test_only_transport_errors_count_as_an_unreachable_api():
    import httpx

    from outcomes.cli import _unreachable_prefect_api

    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError as inner:
            raise RuntimeError("Failed to reach API at http://x/api/") from inner
    except RuntimeError as wrapped:
        assert "Connection refused" in _unreachable_prefect_api(wrapped)
    assert _unreachable_prefect_api(RuntimeError("a bug")) is None


def test_table_output_one_line_per_row_without_trailing_spaces():
    from outcomes.cli import render_table

    text = render_table(["a", "note"], [("x", "two\nlines"), ("longer", None)])
    lines = text.splitlines()
    assert lines == ["a      | note", "-------+-----------", "x      | two\\nlines", "longer | NULL", "(2 rows)"]


def test_sql_takes_one_statement(wh):
    res = invoke("sql", "SELECT 1 AS a; SELECT 2 AS b", "-w", wh)
    assert res.exit_code == 2 and "one SQL statement at a time" in res.output
    assert invoke("sql", "SELECT 1 AS a;", "-w", wh, "--format", "csv").stdout.splitlines() == ["a", "1"]
    for empty in ("", ";", " -- nothing\n"):  # was a traceback
        res = invoke("sql", empty, "-w", wh)
        assert res.exit_code == 2 and "QUERY holds no SQL statement" in res.output and res.exc_info[0] is SystemExit


def test_sql_query_may_start_with_a_comment(wh):
    query = "-- sessions per route\nSELECT 1 AS a"
    for args in (("sql", query, "-w", wh, "--format", "csv"), ("sql", "--format", "csv", "-w", wh, "--", query)):
        res = invoke(*args)
        assert res.exit_code == 0 and res.stdout.splitlines() == ["a", "1"], res.output
    res = invoke("sql", "SELECT 1", "--fromat", "csv", "-w", wh)  # a misspelt option is still one
    assert res.exit_code == 2 and "No such option '--fromat'" in res.output


@pytest.mark.parametrize("other", ["--with-server", "--no-automations"])
def test_serve_automations_only_with_a_contradicting_flag_is_a_usage_error(other, no_config):
    """`serve --with-server --automations-only` started the whole service, the flag dropped."""
    res = invoke("serve", "--automations-only", other)
    assert res.exit_code == 2 and "--automations-only" in res.output and other in res.output, res.output


@pytest.mark.parametrize("flags", [["--port", "4300"], ["--host", "0.0.0.0", "--prefect-home", "/tmp/x"]])
def test_serve_server_options_without_with_server_are_a_usage_error(flags, no_config, monkeypatch):
    """They only configure the server --with-server starts; without it they were dropped without a
    word and the service ran against PREFECT_API_URL (review, session 16)."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    res = invoke("serve", *flags)
    assert res.exit_code == 2 and "apply only with --with-server" in res.output and flags[0] in res.output, res.output


def test_migrate_json_says_what_it_applied(tmp_path):
    p = str(tmp_path / "m.duckdb")
    first = json.loads(invoke("migrate", "-w", p, "--json").output)
    versions = [m["version"] for m in first["migrations"]]
    assert first["warehouse"] == p and first["version"] == max(versions) and first["applied"] == versions
    again = json.loads(invoke("migrate", "-w", p, "--json").output)
    assert again["applied"] == [] and again["migrations"] == first["migrations"]
    assert invoke("migrate", "-w", p).output.strip() == f"warehouse ready: {p}"


@pytest.mark.parametrize("registry", ["../elsewhere", "Upper", "a b"])
def test_report_registry_must_be_a_registry_id(registry, wh, tmp_path):
    """An unchecked --registry named the default output folder (./data/reports/<month>-<registry>):
    '../elsewhere' pointed it outside data/reports; now a usage error, as for ingest."""
    res = invoke("report", "--month", "2025-01", "--registry", registry, "-w", wh)
    assert res.exit_code == 2 and "[a-z0-9]" in res.output, res.output


def test_ingest_text_explains_withdrawals():
    """Listed deletions (FHIR Bulk) and skipped withdrawals were in --json and ops.loads only."""
    from outcomes.cli import format_result

    text = format_result({"registry_id": "r", "export_id": "e", "status": "loaded", "load_id": 3, "tables": {
        "adverse_events": {"loaded": 5, "quarantined": 0, "withdrawn": 1,
                           "notes": {"deletions": {"listed": 2, "withdrawn": 1, "not in the warehouse": 1}}},
        "vitals": {"loaded": 9, "quarantined": 1,
                   "notes": {"withdrawals_skipped": "1 malformed line(s): the records they hold are unknown"}}}})
    lines = text.splitlines()
    assert "  adverse_events: deletions listed 2, withdrawn 1, not in the warehouse 1" in lines, text
    assert "  vitals: withdrawals skipped: 1 malformed line(s): the records they hold are unknown" in lines, text
    assert any(line.startswith("  adverse_events") and "1 withdrawn" in line for line in lines)


def test_a_temporary_server_that_does_not_start_in_time_is_one_line_exit_1(tmp_path):
    """Prefect's own time-out for its temporary server (raised to 90 s by flows/__init__.py; here
    0 s, so it cannot start in time) ends as one line that says what to do, not a traceback."""
    from exports import write_export

    export = str(write_export(tmp_path / "export"))
    env = {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0", "OUTCOMES_PSEUDONYM_KEY": "k" * 32,
           "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": None}  # CI runs a server: not that one
    r = run("ingest", export, "-w", str(tmp_path / "w.duckdb"), env_extra=env)
    # (Prefect logs the server's stop after the error, from its exit hook)
    errors = [x for x in r.stderr.splitlines() if x.startswith("Error: ")]
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(errors) == 1 and "the temporary Prefect server this command started did not answer within 0 s" in errors[0]


def test_the_temporary_server_gets_more_than_prefect_s_20_s(monkeypatch):
    import importlib

    import flows

    monkeypatch.delenv("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", raising=False)
    importlib.reload(flows)
    from prefect.settings import Settings

    # read afresh from the environment, as the process starting the server does (the current
    # settings context may be a test harness another test in this worker entered)
    assert Settings().server.ephemeral.startup_timeout_seconds == 90


@pytest.mark.parametrize("variable, value, args", [
    ("OUTCOMES_LOCK_TIMEOUT", "abc", ["sql", "select 1"]),
    ("OUTCOMES_LOCK_TIMEOUT", "nan", ["status"]),
    ("OUTCOMES_DUCKDB_THREADS", "two", ["marts"]),
    ("OUTCOMES_DUCKDB_MEMORY_LIMIT", "lots", ["marts"]),
    ("OUTCOMES_MEMORY_LIMIT", "lots", ["ingest", "{export}"]),
])
def test_a_bad_setting_in_the_environment_is_a_usage_error_naming_it(variable, value, args, wh, tmp_path):
    from exports import write_export

    export = str(write_export(tmp_path / "e"))
    r = run(*[a.format(export=export) for a in args], "-w", wh, env_extra={variable: value})
    one_line_error(r, 2, f"{variable}: expected")


def test_timestamps_are_the_same_in_every_host_time_zone(wh):
    """`make demo` picks its report month with `outcomes sql`; east of UTC the host's zone moved
    2025-06-30T23:00Z into July, and the report found no data."""
    query = "SELECT strftime(TIMESTAMPTZ '2025-06-30 23:00:00+00', '%Y-%m') AS m, TIMESTAMPTZ '2025-06-30 23:00:00+00' AS t"
    outs = {tz: run("sql", query, "-w", wh, "--format", "csv", env_extra={"TZ": tz}).stdout
            for tz in ("UTC", "Asia/Tokyo", "America/Los_Angeles")}
    assert set(outs.values()) == {"m,t\n2025-06,2025-06-30T23:00:00+00:00\n"}, outs


def test_another_program_s_duckdb_file_is_refused_and_left_as_it_was(tmp_path):
    """status and marts failed on a missing ops.loads with DuckDB's catalog error, and migrate (and
    ingest, which migrates) wrote the warehouse's schemas into the other database."""
    from exports import write_export

    other = tmp_path / "other.duckdb"
    con = duckdb.connect(str(other))
    con.execute("CREATE TABLE t (a INTEGER)")
    con.close()
    for args in (["status"], ["marts"], ["migrate"], ["report", "--month", "2025-01", "--out", str(tmp_path / "r")],
                 ["ingest", str(write_export(tmp_path / "e"))]):
        one_line_error(run(*args, "-w", str(other)), 1, "is a DuckDB database but not an outcomes warehouse")
    con = duckdb.connect(str(other), read_only=True)
    assert con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall() == [("main", "t")]
    con.close()


# sql --format json: values as DuckDB holds them ------------------------------------------------

def test_sql_json_keeps_every_column_of_one_name(wh):
    """Keys of one name overwrote each other: `SELECT 1 AS a, 2 AS a` gave [{"a": 2}], and a
    `SELECT *` join lost one side's lineage columns (the other side's values under their names)."""
    res = invoke("sql", "SELECT 1 AS a, 2 AS a, 3 AS a_2, 4 AS a, 5 AS b", "-w", wh, "--format", "json")
    assert res.exit_code == 0, res.output
    assert list(json.loads(res.stdout)[0].items()) == [("a", 1), ("a_3", 2), ("a_2", 3), ("a_4", 4), ("b", 5)]
    join = ("SELECT * FROM (SELECT 'S1' AS session_id, 'P1' AS patient_key, 4 AS load_id) s "
            "JOIN (SELECT 'P1' AS patient_key, 1 AS load_id) p ON s.patient_key = p.patient_key")
    assert json.loads(invoke("sql", join, "-w", wh, "--format", "json").stdout) == [
        {"session_id": "S1", "patient_key": "P1", "load_id": 4, "patient_key_2": "P1", "load_id_2": 1}]
    # table and CSV keep the names as DuckDB gives them
    assert invoke("sql", join, "-w", wh, "--format", "csv").stdout.splitlines()[0] == \
        "session_id,patient_key,load_id,patient_key,load_id"


def _strict_json(text: str):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")
    return json.loads(text, parse_constant=refuse)


def test_sql_json_is_valid_json_with_nan_and_infinities(wh):
    """DOUBLE division by zero gives NaN and infinities: --format json printed bare NaN/Infinity,
    which strict parsers (jq, JSON.parse) refuse. Now null; table and CSV show DuckDB's text."""
    q = ("SELECT 0.0::DOUBLE / 0 AS r, 1.0::DOUBLE / 0 AS r2, -1.0::DOUBLE / 0 AS r3, [1.0::DOUBLE / 0, 2.5] AS l, "
         "json_object('a', 'inf'::DOUBLE) AS j, 1.5::DOUBLE AS x")
    res = invoke("sql", q, "-w", wh, "--format", "json")
    assert _strict_json(res.stdout) == [{"r": None, "r2": None, "r3": None, "l": [None, 2.5], "j": {"a": None},
                                         "x": 1.5}]
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines()[1].startswith("nan,inf,-inf,")
    assert invoke("sql", q, "-w", wh).stdout.splitlines()[2].startswith("nan | inf | -inf |")
    # the other --json outputs convert alike (ingest, status)
    from outcomes.cli import _jsonable

    assert _strict_json(json.dumps(_jsonable({"t": {"s": float("nan")}, "u": [float("-inf")]}))) == {
        "t": {"s": None}, "u": [None]}


def test_sql_shows_decimals_with_all_their_digits(wh):
    """DECIMAL went through float: 12345678901234567.89 showed as 1.2345678901234568e+16 in every
    format. Table and CSV show its digits; JSON writes them as an exact number (as DuckDB's to_json)."""
    from decimal import Decimal

    q = "SELECT 12345678901234567.89::DECIMAL(19,2) AS big, 0.0000001::DECIMAL(18,7) AS small, [1.10] AS l"
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines() == [
        "big,small,l", "12345678901234567.89,0.0000001,[1.10]"]
    assert "12345678901234567.89 | 0.0000001 | [1.10]" in invoke("sql", q, "-w", wh).stdout
    text = invoke("sql", q, "-w", wh, "--format", "json").stdout
    assert '"big": 12345678901234567.89,' in text
    assert json.loads(text, parse_float=Decimal) == [
        {"big": Decimal("12345678901234567.89"), "small": Decimal("0.0000001"), "l": [Decimal("1.10")]}]


def test_sql_shows_intervals_as_duckdb_does(wh):
    """INTERVALs printed as Python timedelta reprs, a month as '30 days, 0:00:00'."""
    q = ("SELECT INTERVAL 1 MONTH AS m, INTERVAL 90 MINUTE AS n, -INTERVAL '1 day 2 hours' AS k, "
         "INTERVAL '1 year 2 months 3 days 04:05:06.789' AS i, 1 AS m")
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines() == [
        "m,n,k,i,m", "1 month,01:30:00,-1 day -02:00:00,1 year 2 months 3 days 04:05:06.789,1"]
    assert json.loads(invoke("sql", q, "-w", wh, "--format", "json").stdout) == [
        {"m": "1 month", "n": "01:30:00", "k": "-1 day -02:00:00", "i": "1 year 2 months 3 days 04:05:06.789",
         "m_2": 1}]
    # the order, a trailing semicolon or comment, a CTE: the query's own rows
    q = "WITH t AS (SELECT i FROM range(3) r(i)) SELECT INTERVAL (i) MONTH AS m FROM t ORDER BY i DESC; -- newest"
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines() == ["m", "2 months", "1 month", "00:00:00"]
    assert invoke("sql", "SELECT INTERVAL 1 DAY AS d WHERE false", "-w", wh, "--format", "csv").stdout == "d\n"
    # inside a list, struct or map too (a month there came out as 30 days)
    res = invoke("sql", "SELECT [INTERVAL 2 DAY, INTERVAL 90 MINUTE, -INTERVAL 90 MINUTE] AS l", "-w", wh)
    assert '["2 days", "01:30:00", "-01:30:00"]' in res.stdout
    q = ("SELECT [INTERVAL 1 MONTH, NULL] AS l, {'d': INTERVAL 14 MONTH, 'n': 'nan'::DOUBLE} AS s, "
         "MAP {'k': INTERVAL 1 YEAR} AS m, NULL::INTERVAL[] AS e")
    assert json.loads(invoke("sql", q, "-w", wh, "--format", "json").stdout) == [
        {"l": ["1 month", None], "s": {"d": "1 year 2 months", "n": None}, "m": {"k": "1 year"}, "e": None}]
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines()[1] == (
        '"[""1 month"", null]","{""d"": ""1 year 2 months"", ""n"": null}","{""k"": ""1 year""}",')
    from datetime import timedelta

    from outcomes.cli import interval_text

    assert interval_text(timedelta(days=1, microseconds=500)) == "1 day 00:00:00.0005"
    assert interval_text(timedelta(0)) == "00:00:00"


def test_sql_runs_a_query_once_and_shows_booleans_as_duckdb_does(wh, monkeypatch):
    """A query with an INTERVAL column ran twice (once for its columns' types, once projected to
    text); booleans showed as Python's True/False in table and CSV."""
    import warehouse.connect

    seen = []
    real = warehouse.connect.open_readonly

    class Counting:
        def __init__(self, con):
            self._con = con

        def __getattr__(self, name):
            attr = getattr(self._con, name)
            if name in ("execute", "sql", "query"):
                def counted(q, *a, **kw):
                    seen.append(q)
                    return attr(q, *a, **kw)
                return counted
            return attr

    monkeypatch.setattr(warehouse.connect, "open_readonly", lambda *a, **kw: Counting(real(*a, **kw)))
    q = "SELECT INTERVAL 1 MONTH AS m, true AS t, false AS f, NULL::BOOLEAN AS n, [true] AS l"
    assert invoke("sql", q, "-w", wh, "--format", "csv").stdout.splitlines() == [
        "m,t,f,n,l", "1 month,true,false,,[true]"]
    assert seen == [q]
    assert "1 month | true | false | NULL | [true]" in invoke("sql", q, "-w", wh).stdout
    assert json.loads(invoke("sql", q, "-w", wh, "--format", "json").stdout) == [
        {"m": "1 month", "t": True, "f": False, "n": None, "l": [True]}]


def test_ingest_progress_bar_moves_with_each_step_of_each_export():
    """The bar counted exports only, and only when there were two or more: one large export, the
    longest work there is, showed nothing for minutes. It now moves with each ingest step."""
    import io

    from flows.ingest import STEPS, _on_step
    from outcomes.cli import IngestProgress

    out = io.StringIO()
    bar = IngestProgress(2, enabled=True, file=out)
    with bar.export():
        _on_step.get()("verify")
        _on_step.get()("read")
        assert bar.bar.n == 2 and "export 1/2" in out.getvalue() and out.getvalue().endswith("pseudonymise")
    assert bar.bar.n == len(STEPS)  # ended early (a duplicate): its other steps are skipped
    with bar.export():
        for step in STEPS:
            _on_step.get()(step)
    assert bar.bar.n == bar.bar.total == 2 * len(STEPS) and "export 2/2" in out.getvalue()
    assert _on_step.get() is None
    bar.close()
    quiet = IngestProgress(1, enabled=False, file=out)
    before = out.getvalue()
    with quiet.export():
        _on_step.get()("verify")
    quiet.close()
    assert out.getvalue() == before


# key init --------------------------------------------------------------------------------------

def test_key_init_print_env_survives_eval(tmp_path):
    """`eval "$(outcomes key init --print-env)"` broke on a path with a space, $, ; or a quote."""
    key = tmp_path / "my keys $HOME; it's" / "pseudonym.key"
    script = ('eval "$("$0" -m outcomes.cli key init --path "$1" --print-env)" && '
              'printf %s "$OUTCOMES_PSEUDONYM_KEY_FILE"')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(2):  # created, then already there
        r = subprocess.run(["bash", "-c", script, sys.executable, str(key)], capture_output=True, text=True, env=env)
        assert r.returncode == 0 and r.stdout == str(key), (r.stdout, r.stderr)
    assert key.stat().st_mode & 0o777 == 0o600


def _key_file(folder: Path, name: str, text: str, mode: int) -> Path:
    folder.mkdir(exist_ok=True)
    p = folder / name
    p.write_text(text)
    p.chmod(mode)
    return p


def test_key_init_checks_an_existing_file_as_ingest_reads_it(tmp_path, no_config):
    """`key init` said an empty or short key file was fine (exit 0), which ingest then refused."""
    keys = tmp_path / "keys"
    for name, text, reason in (("empty.key", "", "is empty"), ("short.key", "short\n", "is shorter than 16 bytes")):
        p = _key_file(keys, name, text, 0o600)
        res = invoke("key", "init", "--path", str(p), "--print-env")
        assert res.exit_code == 1 and res.stdout == "", res.output  # no export line for a key that cannot be used
        assert res.stderr.count("\n") == 1 and f"Error: the pseudonymisation key file {p} {reason}" in res.stderr
        assert p.read_text() == text  # left as it was: it may be a damaged copy of the real key
    good = _key_file(keys, "good.key", "k" * 64 + "\n", 0o600)
    res = invoke("key", "init", "--path", str(good))
    assert res.exit_code == 0 and res.stderr == f"key file exists: {good}\n"


def test_a_key_file_open_to_others_is_used_with_a_warning(tmp_path, no_config, monkeypatch):
    """README and privacy.md say mode 0600; nothing said so when a key file was world-readable."""
    p = _key_file(tmp_path / "keys", "open.key", "k" * 64 + "\n", 0o644)
    warning = f"warning: the pseudonymisation key file {p} is open to group or others (mode 0644): chmod 600 it\n"
    res = invoke("key", "init", "--path", str(p))
    assert res.exit_code == 0 and res.stderr == f"key file exists: {p}\n{warning}"
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY")
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY_FILE", str(p))
    (tmp_path / "none").mkdir()
    res = invoke("ingest", str(tmp_path / "none"), "-w", str(tmp_path / "w.duckdb"))
    assert res.exit_code == 2 and res.stderr.startswith(warning) and "no exports found" in res.stderr  # key taken
    p.chmod(0o600)
    assert "warning" not in invoke("ingest", str(tmp_path / "none"), "-w", str(tmp_path / "w.duckdb")).stderr


def test_key_errors_say_what_is_wrong_and_how_to_fix_it(tmp_path):
    """An empty key file was reported as "no key: set OUTCOMES_PSEUDONYM_KEY_FILE" (it was set), and
    the hint named `make key`, which works only in a checkout of the repository."""
    from transforms.pseudonymise import MissingKeyError, load_key

    empty = _key_file(tmp_path / "keys", "empty.key", "\n", 0o600)
    with pytest.raises(MissingKeyError, match=f"^the pseudonymisation key file {empty} is empty$"):
        load_key({"OUTCOMES_PSEUDONYM_KEY_FILE": str(empty)})
    with pytest.raises(MissingKeyError) as missing:
        load_key({})
    assert "`outcomes key init --print-env`" in str(missing.value) and "make key" not in str(missing.value)
    assert load_key({"OUTCOMES_PSEUDONYM_KEY": "", "OUTCOMES_PSEUDONYM_KEY_FILE": str(
        _key_file(tmp_path / "keys", "good.key", " " + "k" * 20 + "\n", 0o600))}) == b"k" * 20


# arguments an export contradicts: usage errors before anything is recorded ------------------------

@pytest.mark.parametrize("adapter", [[], ["--adapter", "kor"]])
def test_ingest_registry_other_than_a_kor_manifest_s_is_a_usage_error(tmp_path, no_config, adapter):
    """A kor export's registry comes from its manifest: --registry naming another was silently ignored."""
    from exports import write_export

    from outcomes.cli import _targets

    export = write_export(tmp_path / "exports" / "e1")  # registry test-registry
    for arg in (export, tmp_path / "exports"):
        res = invoke("ingest", str(arg), "--registry", "other-clinic", *adapter, "-w", str(tmp_path / "w.duckdb"))
        assert res.exit_code == 2, res.output
        assert f"--registry other-clinic: {export} is an export of registry test-registry" in res.stderr
        assert not (tmp_path / "w.duckdb").exists()
    assert _targets([str(export)], (adapter or [None, None])[1], {"registry_id": "test-registry"},
                    "test-registry") == [(str(export), "kor", "test-registry")]


@pytest.mark.parametrize("command", [["sql", "select 1"], ["status"], ["marts"], ["report", "--month", "2025-01"],
                                     ["report", "--month", "2025-01", "--as-of", "1"]], ids=" ".join)
def test_a_missing_warehouse_error_says_where_its_path_came_from(tmp_path, no_config, monkeypatch, command):
    """"(or set OUTCOMES_WAREHOUSE)" after -w, or under an outcomes.toml naming the file: both win
    over the variable, so the hint sent the user the wrong way (status, marts and report kept it)."""
    missing = tmp_path / "missing.duckdb"
    res = invoke(*command, "-w", str(missing))
    assert res.exit_code == 1 and res.stderr == f"Error: no warehouse at {missing}: run `outcomes ingest` first\n"
    (tmp_path / "outcomes.toml").write_text(f'warehouse = "{missing}"\n')
    monkeypatch.setenv("OUTCOMES_WAREHOUSE", str(tmp_path / "other.duckdb"))
    res = invoke(*command)
    assert res.exit_code == 1 and res.stderr.endswith(
        f"no warehouse at {missing}: run `outcomes ingest` first (set by `warehouse` in outcomes.toml)\n")
    (tmp_path / "outcomes.toml").unlink()
    res = invoke(*command)
    assert res.exit_code == 1 and res.stderr.endswith("other.duckdb: run `outcomes ingest` first (set by OUTCOMES_WAREHOUSE)\n")
    monkeypatch.delenv("OUTCOMES_WAREHOUSE")
    res = invoke(*command)  # the default: how to point elsewhere
    assert res.exit_code == 1 and res.stderr.endswith("(or set OUTCOMES_WAREHOUSE, or give -w)\n"), res.stderr


@pytest.mark.parametrize("adapter", [[], ["--adapter", "redcap"]])
def test_ingest_redcap_export_without_a_mapping_is_a_usage_error(tmp_path, no_config, adapter):
    """It started Prefect and recorded a rejection (rule redcap.mapping) for a missing option."""
    from outcomes.cli import _checked

    export = tmp_path / "exports" / "rc"
    export.mkdir(parents=True)
    (export / "data.csv").write_text("record_id,age\n1,40\n")
    (export / "dictionary.csv").write_text("Variable / Field Name,Form Name,Field Type\nrecord_id,f,text\nage,f,text\n")
    for arg in (export, tmp_path / "exports"):
        res = invoke("ingest", str(arg), "--registry", "rc", *adapter, "-w", str(tmp_path / "w.duckdb"))
        assert res.exit_code == 2, res.output
        assert res.stderr.splitlines()[-1] == (f"Error: {export}: a REDCap export needs a mapping: pass --mapping FILE "
                                               "or put mapping.toml in the export")
        assert not (tmp_path / "w.duckdb").exists()
    targets = [(str(export), "redcap", "")]
    assert _checked(targets, {"mapping": str(tmp_path / "m.toml")}, "rc") == targets
    (export / "mapping.toml").write_text("")  # read (and judged) by the ingest
    assert _checked(targets, {}, "rc") == targets
