import csv
import re
import shutil

import pytest
from click.testing import CliRunner

from reports.command import report_command
from reports.report import generate_report
from tests.reports.cohort import build_warehouse


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_outputs_exist(report):
    for k in ("html", "pdf", "data"):
        assert open(report[k], "rb").read(10)


def test_figures_csv_has_no_small_counts(report):
    rs = rows(report["data"])
    assert rs and set(rs[0]) == {"section", "measure", "stratum", "n", "value", "ci_low", "ci_high", "suppressed"}
    for r in rs:
        if r["suppressed"] == "true":
            assert r["n"] == r["value"] == ""
            continue
        assert not (r["n"] and 1 <= float(r["n"]) <= 10 and float(r["n"]).is_integer()), r
    assert any(r["suppressed"] == "true" for r in rs)  # reg-b (5 patients) and rare cells are hidden


def test_known_answers_in_report(report):
    rs = {(r["section"], r["measure"], r["stratum"]): r for r in rows(report["data"])}
    # Esketamine's week 4 (60 responders of 105, 57 of the 100 followed) is hidden: responders minus
    # responders followed is 3, a count (EFF_PAIRS). Its week 1 is shown: no responder yet.
    for m in ("responders", "response_rate", "response_rate_missing_as_nonresponse"):
        assert rs[("efficacy", m, "instrument=PHQ9; group=esketamine intranasal; week=4")]["suppressed"] == "true"
    r = rs[("efficacy", "responders", "instrument=PHQ9; group=esketamine intranasal; week=1")]
    assert (float(r["n"]), float(r["value"])) == (105, 0)


def test_no_identifiers(report):
    text = open(report["html"]).read() + open(report["data"]).read()
    assert not re.search(r"reg-[ab]-(intranasal|iv)-\d{3}", text)  # patient keys
    assert "-ae" not in text and "1970" not in text


def test_as_of_reproducible(tmp_path):
    wh = build_warehouse(tmp_path / "w.duckdb", with_correction=False)
    a = generate_report("2025-02", tmp_path / "a", as_of_load=2, warehouse_path=wh, pdf=False)
    wh2 = build_warehouse(tmp_path / "w2.duckdb", with_correction=True)   # a later load withdraws an AE
    b = generate_report("2025-02", tmp_path / "b", as_of_load=2, warehouse_path=wh2, pdf=False)
    c = generate_report("2025-02", tmp_path / "c", warehouse_path=wh2, pdf=False)
    assert rows(a["data"]) == rows(b["data"])
    assert rows(a["data"]) != rows(c["data"])


def test_cli_exit_codes(warehouse, tmp_path):
    runner = CliRunner()
    r = runner.invoke(report_command, ["--month", "2030-01", "-w", str(warehouse), "--out", str(tmp_path)])
    assert r.exit_code == 1 and "no data" in r.output
    r = runner.invoke(report_command, ["--month", "2025-13", "-w", str(warehouse)])
    assert r.exit_code == 2


def test_cli_json(warehouse, tmp_path):
    import json

    r = CliRunner().invoke(report_command, ["--month", "2025-02", "-w", str(warehouse), "--out", str(tmp_path),
                                            "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert set(out) == {"html", "pdf", "data", "figures", "suppressed", "report_id"}
    figures = rows(out["data"])
    assert out["figures"] == len(figures) and out["suppressed"] == sum(f["suppressed"] == "true" for f in figures)
