"""The report of a synthetic registry shows no count from 1 to 10 and none that can be derived
(export contract section 5): dose bands and phases against their route's row (F5), complements
n - k (F6); free text (AE verbatim terms, site ids) never reaches report.html or figures.csv (F4)."""
from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

import duckdb
import pytest

from reports.report import generate_report
from tests.flows_free import KEY
from tests.reports.cohort import _insert, _ledger, cohort_frames, refresh_core
from warehouse.migrate import migrate

ROOT = Path(__file__).resolve().parents[2]


def rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def _small(x: float) -> bool:
    return 1 <= x <= 10 and float(x).is_integer()


@pytest.fixture(scope="module")
def synthetic_report(tmp_path_factory, prefect_api):
    """The privacy review's repro: 400 patients, 3 months, seed 7, report for the last month."""
    tmp = tmp_path_factory.mktemp("synthetic")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "PREFECT_HOME": str(tmp / "prefect-home"), "OUTCOMES_PSEUDONYM_KEY": KEY,
           "PREFECT_API_URL": prefect_api}  # the session's server, not a temporary one of its own
    cli = [sys.executable, "-m", "outcomes.cli"]
    subprocess.run(cli + ["synth", "--registry", "northside-ketamine-clinic", "--patients", "400", "--months", "3",
                          "--seed", "7", "--out", str(tmp / "demo")], check=True, env=env, capture_output=True, timeout=300)
    subprocess.run(cli + ["ingest", str(tmp / "demo"), "-w", str(tmp / "wh.duckdb")], check=True, env=env,
                   capture_output=True, timeout=300)
    return generate_report("2025-03", tmp / "report", warehouse_path=tmp / "wh.duckdb", pdf=False)


def test_no_shown_small_count_or_complement(synthetic_report):
    """F6: no shown count, and no shown n - k for a count k of n (patients with an event of those
    exposed, responders of those evaluable, flagged of those evaluable, KM events of patients), is 1..10."""
    subset = re.compile(r"patients_with_event|responders|remitters|remitters_madrs_le12|_flagged$|km_\w+_events")
    bad = []
    for r in rows(synthetic_report["data"]):
        if r["suppressed"] == "true":
            continue
        if r["n"] and _small(float(r["n"])):
            bad.append(r)
        if subset.fullmatch(r["measure"]) or subset.search(r["measure"]) and r["measure"].endswith("_flagged"):
            if r["n"] and r["value"] and _small(float(r["n"]) - float(r["value"])):
                bad.append(r)
    assert bad == []


def test_the_reviewed_cells_are_protected(synthetic_report):
    rs = {(r["section"], r["measure"], r["stratum"]): r for r in rows(synthetic_report["data"])}
    im = rs[("safety", "patients_with_event", "term=Any adverse event; level=any; group=ketamine im; period=cumulative")]
    madrs = rs[("efficacy", "responders", "instrument=MADRS; group=esketamine intranasal; week=8")]
    for r in (im, madrs):
        assert r["suppressed"] == "true" or not _small(float(r["n"]) - float(r["value"])), r


@pytest.mark.parametrize("measure", ["sessions", "patients", "patient_years"])
def test_bands_and_phases_cannot_be_recovered_from_the_route_row(synthetic_report, measure):
    """F5: within a route, the dose bands (and the phases) add up to the route's cumulative row: a
    group with exactly one hidden member would give it away by subtraction."""
    rs = [r for r in rows(synthetic_report["data"]) if r["section"] == "exposure" and r["measure"] == measure]
    totals = {m[1]: r for r in rs if (m := re.fullmatch(r"group=(.+); period=cumulative", r["stratum"]))}
    parts = defaultdict(list)
    for r in rs:
        if m := re.fullmatch(r"group=(.+); (dose_band|phase)=.+; period=cumulative", r["stratum"]):
            parts[m[1], m[2]].append(r)
    assert parts and {g for g, _ in parts} <= set(totals)
    for (grp, dim), ps in parts.items():
        hidden = sum(r["suppressed"] == "true" for r in ps + [totals[grp]])
        assert hidden != 1, (grp, dim, [(r["stratum"], r["value"]) for r in ps], totals[grp]["value"])


def test_months_of_a_group_cannot_be_recovered_from_its_cumulative_row(synthetic_report):
    rs = [r for r in rows(synthetic_report["data"]) if r["section"] == "exposure" and r["measure"] == "sessions"
          and re.fullmatch(r"group=[^;]+; period=\d{4}-\d\d", r["stratum"])]
    months = defaultdict(dict)
    for r in rs:
        grp, period = re.fullmatch(r"group=([^;]+); period=(.+)", r["stratum"]).groups()
        months[grp][period] = r  # the report month appears twice (table and chart), the same cell
    cum = {re.fullmatch(r"group=(.+); period=cumulative", r["stratum"])[1]: r for r in rows(synthetic_report["data"])
           if r["section"] == "exposure" and r["measure"] == "sessions" and re.fullmatch(r"group=[^;]+; period=cumulative", r["stratum"])}
    assert len([g for g in months if g != "all groups"]) >= 2 and set(months) - {"all groups"} <= set(cum)
    for grp, ms in months.items():
        if grp == "all groups":
            continue
        hidden = sum(r["suppressed"] == "true" for r in list(ms.values()) + [cum[grp]])
        assert hidden != 1, (grp, {p: r["value"] for p, r in ms.items()}, cum[grp]["value"])


NAMES = ("Jonathan Quixley", "Marguerite Oyelaran", "Whitfield")


def test_free_text_never_reaches_the_report(tmp_path):
    """F4: a verbatim AE term (uncoded, or serious and rare) and a site id holding a name appear in
    neither report.html nor figures.csv."""
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    t = cohort_frames("reg-c", 30, 20)
    for i, p in enumerate(t["patients"]):
        if i % 5 == 0:
            p["site_id"] = "Dr Alice Whitfield's practice"
    pks = [p["patient_key"] for p in t["patients"]]
    base = t["adverse_events"][0]
    for n, (pk, term, serious) in enumerate([(pks[0], "Jonathan Quixley fell in the car park", False),
                                             (pks[1], "told Marguerite Oyelaran about it", True)]):
        t["adverse_events"].append({**base, "ae_id": f"x{n}", "patient_key": pk, "session_id": f"{pk}-s2",
                                    "term": term, "meddra_pt": None, "serious": serious, "hospitalization": serious})
    e = datetime(2025, 5, 1, 23, tzinfo=timezone.utc)
    for table, rs in t.items():
        _insert(con, table, rs, 1, e)
    _ledger(con, 1, "reg-c", e)
    refresh_core(con)
    con.close()
    out = generate_report("2025-02", tmp_path / "r", warehouse_path=tmp_path / "w.duckdb", pdf=False)
    text = open(out["html"], encoding="utf-8").read() + open(out["data"], encoding="utf-8").read()
    for name in NAMES:
        assert name not in text
    assert "@" not in open(out["data"], encoding="utf-8").read()
