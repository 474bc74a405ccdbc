"""Leaks the s8b review found (docs/report.md, 'Suppression'): numbers a reader derived from shown
figures although their cell was hidden or their difference was a count of 1..10. On the small-groups
cohort of test_reports_denominators (ketamine IV 60, IM 16, oral 8), with PHQ-9 item 9 scores."""
from __future__ import annotations

import csv
import re

import duckdb
import pytest

from reports.suppression import is_small
from tests.reports.cohort import refresh_core
from tests.reports.test_reports_denominators import _stratum, build_small_groups


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    from reports.report import generate_report

    tmp = tmp_path_factory.mktemp("leaks")
    wh = build_small_groups(tmp / "w.duckdb")
    con = duckdb.connect(str(wh))
    try:  # PHQ-9 item 9 for every patient but IV 55-59: 55 of IV's 60 patients exposed have a screen
        con.execute("UPDATE history.assessments SET item_scores = CASE WHEN patient_key LIKE '%-00%' OR patient_key "
                    "LIKE '%-01%' THEN '1;1;1;1;1;1;1;1;1' ELSE '1;1;1;1;1;1;1;1;0' END WHERE instrument = 'PHQ9' "
                    "AND NOT regexp_matches(patient_key, '-iv-05[5-9]$')")
        # IV patients 0-4 respond on day 3 and stay responders: 5 responders by day 7 of IV's 60, none
        # censored before
        con.execute("UPDATE history.assessments SET total_score = 8 "
                    "WHERE regexp_matches(assessment_id, '^reg-a-iv-00[0-4]-phq(7|14)$')")
        con.execute("INSERT INTO history.assessments SELECT * REPLACE (assessment_id || '-d3' AS assessment_id, "
                    "assessed_at - INTERVAL 4 DAY AS assessed_at, 4 AS total_score) FROM history.assessments "
                    "WHERE regexp_matches(assessment_id, '^reg-a-iv-00[0-4]-phq7$')")
        refresh_core(con)
    finally:
        con.close()
    return generate_report("2025-02", tmp / "feb", warehouse_path=wh, pdf=False, draft=True)


def rows(report) -> list[dict]:
    with open(report["data"]) as fh:
        return [{**r, **{"st": _stratum(r["stratum"])}} for r in csv.DictReader(fh)]


def km_legend(report) -> list[str]:
    """The groups the PHQ-9 Kaplan-Meier chart draws (its legend)."""
    html = open(report["html"]).read()
    i = html.index("PHQ-9: time to first response")
    svg = html[html.rfind("<svg", 0, i):html.index("</svg>", i)]
    legend = svg[svg.find('id="legend_1"'):] if 'id="legend_1"' in svg else ""
    return re.findall(r"<text[^>]*>([a-z]+ [a-z]+)</text>", legend)


def test_the_km_chart_draws_only_groups_whose_km_cell_is_shown(small):
    shown = {r["st"]["group"]: r["suppressed"] == "false" for r in rows(small)
             if r["measure"] == "km_response_patients" and r["st"].get("instrument") == "PHQ9"}
    assert not all(shown.values())  # the cohort hides one group with n >= 11 at least
    drawn = km_legend(small)
    assert drawn, "no curve drawn"
    assert [g for g in drawn if not shown.get(g)] == []


def test_responders_minus_responders_followed_is_not_a_small_count(small):
    """The rate 'missing = non-response' times its n gives the responders followed; responders minus
    them was shown as 9 in the review (r05)."""
    by = {}
    for r in rows(small):
        if r["section"] == "efficacy" and r["suppressed"] == "false" and r["measure"] in (
                "responders", "response_rate_missing_as_nonresponse"):
            by.setdefault(r["stratum"], {})[r["measure"]] = r
    diffs = []
    for st, m in by.items():
        if len(m) == 2:
            f = m["response_rate_missing_as_nonresponse"]
            followed = round(float(f["value"]) * float(f["n"]))
            diffs.append((st, int(float(m["responders"]["value"])) - followed))
    assert diffs  # rows show both
    assert [d for d in diffs if is_small(abs(d[1]))] == []


def test_suicidality_patients_evaluable_are_nested_in_patients_exposed_cumulative(small):
    """Patients with an on-treatment PHQ-9 (or C-SSRS) screen are some of the group's patients exposed
    over the cumulative period: their difference (394 - 384 = 10 in the review, r05) is a count."""
    exposed, evaluable = {}, {}
    for r in rows(small):
        st = r["st"]
        if r["suppressed"] != "false" or st.get("period") != "cumulative":
            continue
        if r["section"] == "safety" and r["measure"] == "patients_exposed":
            exposed[st["group"]] = int(float(r["value"]))
        if r["measure"] == "suicidality_patients_flagged":
            evaluable.setdefault(st["group"], set()).add(int(float(r["n"])))
    pairs = [(g, exposed[g] - e) for g in evaluable.keys() & exposed.keys() for e in evaluable[g]]
    assert pairs
    assert [p for p in pairs if is_small(p[1])] == []


def test_a_km_estimate_times_n_is_not_a_small_count(small):
    """Cumulative incidence by day d times n is the events by day d where nobody was censored before
    (review: MADRS ketamine im, 0.2 x 25 = 5). Here IV's 5 responders by day 7."""
    est = [(r["stratum"], r["measure"], round(float(r["value"]) * float(r["n"]))) for r in rows(small)
           if r["section"] == "efficacy" and "_cum_incidence_day" in r["measure"] and r["suppressed"] == "false"
           and r["value"] != ""]
    assert est
    assert [e for e in est if is_small(e[2])] == []
    iv7 = [r for r in rows(small) if r["measure"] == "km_response_cum_incidence_day7"
           and r["st"]["group"] == "ketamine iv" and r["st"]["instrument"] == "PHQ9"]
    assert [r["suppressed"] for r in iv7] == ["true"]  # the estimate, not the group: its n still shown
    assert [r["suppressed"] for r in rows(small) if r["measure"] == "km_response_patients"
            and r["st"]["group"] == "ketamine iv" and r["st"]["instrument"] == "PHQ9"] == ["false"]


def test_the_km_chart_draws_no_part_of_a_curve_with_1_to_10_events_so_far():
    """Before the 11th event a curve's height times n is a count of 1..10: that part is not drawn."""
    import pandas as pd

    from reports import charts

    t = list(range(0, 30, 3))
    curve = pd.DataFrame({"drug": "ketamine", "route": "iv", "timeline": t, "at_risk": [60 - i for i in range(10)],
                          "cum_incidence": [i / 60 for i in range(10)], "ci_low": 0.0, "ci_high": 0.5,
                          "events": list(range(10))})
    assert "No data to plot" in charts.km(curve, "few events")
    more = curve.assign(events=curve["events"] + 11)
    assert "No data to plot" not in charts.km(more, "enough events")


def test_eair_is_hidden_with_its_row_and_its_n_is_the_patients_exposed(small):
    """The EAIR showed (with new patients with an event as n) where the row's other rates were hidden
    with the group's denominators."""
    by = {}
    for r in rows(small):
        if r["section"] in ("safety", "long_term") and "level" in r["st"]:
            by.setdefault((r["section"], r["stratum"]), {})[r["measure"]] = r
    assert any(m["patients_exposed"]["suppressed"] == "true" for m in by.values())
    for m in by.values():
        e, p = m["eair_per_100py"], m["patients_with_event"]
        assert e["suppressed"] == p["suppressed"], e
        if e["suppressed"] == "false":
            assert e["n"] == p["n"]
