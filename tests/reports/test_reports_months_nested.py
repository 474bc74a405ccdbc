"""A month's count is some of the cumulative count of the same quantity (group, term, measure), and
both are shown: cumulative minus month (what happened before the month only) must not be 1..10
(s8b review: 161 - 156 = 5 patients treated in January without a February session; esketamine's
flagged patients 23 - 20; Dizziness, ketamine IV, 15 - 14 events). Content._nest protects them.

Read from figures.csv by what a reader can match: every shown row with a period in its stratum is
paired with the shown row of the same section, measure and stratum with period=cumulative; counts
are compared as values, and every row's n (patients exposed, sessions, units evaluable) too.
"""
from __future__ import annotations

import csv

import duckdb
import pytest

from reports.suppression import is_small
from tests.reports.cohort import refresh_core
from tests.reports.test_reports_denominators import _stratum, build_small_groups

NOT_COUNTS = ("rate", "per_100", "eair", "patient_years", "mean", "median", "cum_incidence", "risk_difference")


@pytest.fixture(scope="module")
def feb(tmp_path_factory):
    return build_report(tmp_path_factory.mktemp("months-nested"))


def build_report(tmp):
    """The February report of test_reports_denominators' cohort with month-vs-cumulative gaps planted."""
    from reports.report import generate_report

    wh = build_small_groups(tmp / "w.duckdb")
    con = duckdb.connect(str(wh))
    try:
        # esketamine patients 0-4 stop in January: 95 of 100 patients (and of the patients with a
        # post-dose BP) in February, 100 cumulative
        gone = "regexp_matches(session_id, '^reg-a-intranasal-00[0-4]-') AND session_id IN (SELECT session_id FROM " \
               "history.sessions WHERE session_start >= TIMESTAMPTZ '2025-02-01')"
        con.execute(f"DELETE FROM history.vitals WHERE {gone}")
        con.execute(f"DELETE FROM history.sessions WHERE {gone}")
        # Dizziness: ketamine IV patients 0-13 in February, 14 in January: 14 vs 15 patients and events
        con.execute("INSERT INTO history.adverse_events SELECT * REPLACE (ae_id || '-dz' AS ae_id, 'dizziness' AS term, "
                    "'Dizziness' AS meddra_pt, onset_date + CASE WHEN patient_key = 'reg-a-iv-014' THEN 0 ELSE 30 END "
                    "AS onset_date) FROM history.adverse_events WHERE meddra_pt = 'Headache' "
                    "AND regexp_matches(patient_key, '^reg-a-iv-0(0[0-9]|1[0-4])$')")
        refresh_core(con)
    finally:
        con.close()
    return generate_report("2025-02", tmp / "feb", warehouse_path=wh, pdf=False, draft=True)


def month_vs_cumulative(path) -> list:
    shown = {}
    with open(path) as fh:
        for r in csv.DictReader(fh):
            st = _stratum(r["stratum"])
            period = st.pop("period", None)
            if period is None or r["suppressed"] == "true":
                continue
            base = (r["section"], r["measure"], tuple(sorted(st.items())))
            shown.setdefault(base, {})[period] = r
    out = []
    for base, ps in shown.items():
        cum = ps.get("cumulative")
        if cum is None:
            continue
        for period, r in ps.items():
            if period == "cumulative":
                continue
            cols = ("n",) if any(w in base[1] for w in NOT_COUNTS) else ("n", "value")
            for col in cols:
                if r[col] == "" or cum[col] == "":
                    continue
                d = float(cum[col]) - float(r[col])
                if d == int(d) and is_small(int(d)):
                    out.append((base, period, col, r[col], cum[col]))
    return out


def test_cumulative_minus_month_is_never_a_small_count(feb):
    leaks = month_vs_cumulative(feb["data"])
    assert not leaks, leaks[:20]


def test_the_check_finds_a_planted_difference(tmp_path):
    p = tmp_path / "figures.csv"
    p.write_text("section,measure,stratum,n,value,ci_low,ci_high,suppressed\n"
                 "summary,patients,period=2025-02,156,156,,,false\nsummary,patients,period=cumulative,161,161,,,false\n")
    assert len(month_vs_cumulative(p)) == 2


def test_a_hidden_cumulative_cell_hides_the_unshown_difference_not_the_month():
    """Cumulative 40 hidden (by another group): month 23 + difference 17 = 40. Hiding the difference,
    which no figure shows, protects the cumulative count; the month's 23 stays shown."""
    from reports.suppression import Cell, suppress

    g = [("nest", "part")]
    cells = [Cell(("cum",), {"n": 40}, [("nest", "total")]), Cell(("month",), {"n": 23}, list(g)),
             Cell(("diff",), {"n": 17}, list(g), unshown=True)]
    assert suppress(cells, forced={("cum",)}) == {("cum",), ("diff",)}
