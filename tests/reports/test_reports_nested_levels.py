"""Counts of one level that are some of another's, both shown: their difference is a count too.

- A route's patients and the patients of one of its dose bands: bands add up in sessions, not in
  patients (a patient dosed at two bands is in both), so 60 IV patients beside 56 at 0.5 mg/kg tell
  that 4 were never dosed at 0.5 mg/kg. Before, the bands were an additive group in patients too,
  which protected nothing here (56 + 34 is not 60, and nothing was small).
- A route's patients and all patients: drug and route are each session's, so a patient treated by
  two routes is in both rows and routes do not add up in patients: 180 of 184 with an intranasal
  session tell that 4 never had one.
- A label group's patients with an event (events) and those of a listed preferred term of it: 44
  IV patients with Sedation beside 40 with Somnolence tell that 4 had another sedation term only.
- A long-term signal's patients (events) and those with any adverse event: 40 IV patients with
  urinary symptoms beside 44 with any AE tell that 4 had other events only.
- The patients followed to a later week and to an earlier one (a later window ends later): IV
  patients whose first session was on 25 January are followed to week 4 (day 35) but not to week 8
  (day 66) by the 1 April cut-off of the March report: 60 then 57 tells that 3 started last.
Read from figures.csv as a reader would: pairs of shown rows of the same group and period.
"""
from __future__ import annotations

import csv

import duckdb
import pytest

from reports.suppression import is_small
from tests.reports.cohort import refresh_core
from tests.reports.test_reports_denominators import _stratum, build_small_groups


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from reports.report import generate_report

    tmp = tmp_path_factory.mktemp("nested-levels")
    wh = build_small_groups(tmp / "w.duckdb")
    con = duckdb.connect(str(wh))
    try:
        # IV patients 0-29: one session at 0.8 mg/kg; 56-59: every session; the rest at 0.5 only:
        # 0.5 mg/kg 56 patients, >0.5-1.0 mg/kg 34, IV 60
        con.execute("UPDATE history.sessions SET dose_mg_per_kg = 0.8 WHERE (regexp_matches(session_id, "
                    "'^reg-a-iv-0[0-2][0-9]-s1$')) OR regexp_matches(session_id, '^reg-a-iv-05[6-9]-')")
        # ketamine patients 0-79 (IV, IM, oral 76-79): one session (day 17) of intranasal esketamine:
        # 180 patients with an intranasal session of the 184
        con.execute("UPDATE history.sessions SET drug = 'esketamine', route = 'intranasal', dose_mg = 84, "
                    "dose_mg_per_kg = NULL, infusion_minutes = NULL, devices = 3 "
                    "WHERE regexp_matches(session_id, '^reg-a-iv-0[0-7][0-9]-s5$')")
        # Somnolence for IV patients 0-39, Stupor (also Sedation, too few events to be listed) for 40-43
        # Dysuria (the Urinary symptoms signal, long-term table) for the same 40: 40 of 44 with any AE
        for pt, pattern in (("Somnolence", "^reg-a-iv-0([0-3][0-9])$"), ("Stupor", "^reg-a-iv-04[0-3]$"),
                            ("Dysuria", "^reg-a-iv-0([0-3][0-9])$")):
            con.execute(f"""INSERT INTO history.adverse_events
                SELECT a.* REPLACE (p.patient_key || '-{pt}' AS ae_id, p.patient_key AS patient_key, lower('{pt}') AS term,
                                    '{pt}' AS meddra_pt, DATE '2025-02-10' AS onset_date)
                FROM (SELECT * FROM history.adverse_events WHERE meddra_pt = 'Headache' AND patient_key = 'reg-a-iv-000') a
                CROSS JOIN (SELECT DISTINCT patient_key FROM history.patients
                            WHERE regexp_matches(patient_key, '{pattern}')) p""")
        refresh_core(con)
        planted = con.execute("SELECT count(DISTINCT patient_key) FILTER (WHERE dose_mg_per_kg = 0.5), "
                              "count(DISTINCT patient_key) FROM core.sessions WHERE route = 'iv'").fetchone()
        assert planted == (56, 60)
        assert con.execute("SELECT count(DISTINCT patient_key) FILTER (WHERE route = 'intranasal'), "
                           "count(DISTINCT patient_key) FROM core.sessions").fetchone() == (180, 184)
    finally:
        con.close()
    return generate_report("2025-03", tmp / "mar", warehouse_path=wh, pdf=False, draft=True)


def _rows(path) -> list[dict]:
    with open(path) as fh:
        return [r for r in csv.DictReader(fh) if r["suppressed"] == "false"]


def _small_differences(outer: dict, inner: dict, cols=("value",)) -> list:
    return [(outer["stratum"], inner["stratum"], c, outer[c], inner[c]) for c in cols
            if outer[c] and inner[c] and is_small(round(float(outer[c]) - float(inner[c])))]


def test_route_patients_minus_a_dose_bands_patients_is_not_shown_small(report):
    rows = _rows(report["data"])
    routes = {(st["group"], st["period"]): r for r in rows
              if r["section"] == "exposure" and r["measure"] == "patients"
              and set(st := _stratum(r["stratum"])) == {"group", "period"}}
    leaks = []
    for r in rows:
        st = _stratum(r["stratum"])
        if r["section"] == "exposure" and r["measure"] == "patients" and ("dose_band" in st or "phase" in st):
            outer = routes.get((st["group"], st["period"]))
            if outer:
                leaks += _small_differences(outer, r)
    assert not leaks, leaks


def test_all_patients_minus_a_routes_patients_is_not_shown_small(report):
    rows = [r for r in _rows(report["data"]) if r["section"] == "exposure" and r["measure"] == "patients"]
    by = {(st["group"], st["period"]): r for r in rows if set(st := _stratum(r["stratum"])) == {"group", "period"}}
    leaks = []
    for (grp, period), r in by.items():
        outer = by.get(("all groups", period))
        if grp != "all groups" and outer:
            leaks += _small_differences(outer, r)
    assert not leaks, leaks


def test_label_group_minus_its_preferred_term_is_not_shown_small(report):
    rows = _rows(report["data"])
    by = {}
    for r in rows:
        st = _stratum(r["stratum"])
        if r["section"] == "safety" and r["measure"] in ("patients_with_event", "events"):
            by[(st["term"], st["level"], st["group"], st["period"], r["measure"])] = r
    leaks = []
    for (term, level, grp, period, measure), r in by.items():
        if level != "pt":
            continue
        outers = [("Any adverse event", "any")] + ([("Sedation", "label_group")] if term in ("Somnolence", "Stupor") else [])
        for o in outers:
            outer = by.get((*o, grp, period, measure))
            if outer:
                leaks += _small_differences(outer, r)
    assert not leaks, leaks


def test_any_adverse_event_minus_a_long_term_signal_is_not_shown_small(report):
    rows = _rows(report["data"])
    anyae = {}
    for r in rows:
        st = _stratum(r["stratum"])
        if r["section"] == "safety" and st.get("level") == "any":
            anyae[(st["group"], st["period"], r["measure"])] = r
    leaks = []
    for r in rows:
        st = _stratum(r["stratum"])
        if r["section"] == "long_term" and r["measure"] in ("patients_with_event", "events") \
                and st.get("term") != "ALT/AST >= 3x ULN (labs)":
            outer = anyae.get((st["group"], st["period"], r["measure"]))
            if outer:
                leaks += _small_differences(outer, r)
    assert not leaks, leaks


def test_patients_followed_to_two_weeks_do_not_differ_by_a_small_count(report):
    followed = {}
    for r in _rows(report["data"]):
        if r["section"] == "efficacy" and r["measure"] == "patients_followed":
            st = _stratum(r["stratum"])
            followed.setdefault((st["instrument"], st["group"]), []).append(r)
    leaks = []
    for rows in followed.values():
        for i, a in enumerate(rows):
            for b in rows[i + 1:]:
                outer, inner = sorted((a, b), key=lambda r: -float(r["value"]))
                leaks += _small_differences(outer, inner)
    assert not leaks, leaks


def test_the_planted_terms_are_listed(report):
    """The checks above have something to check: Somnolence is listed (more than 10 events, shown
    in some row), and the IV route's and the 0.5 mg/kg band's patients are shown in some report
    (here or, on the old code, both: 60 and 56)."""
    terms = {_stratum(r["stratum"]).get("term") for r in _rows(report["data"]) if r["section"] in ("safety", "long_term")}
    assert {"Somnolence", "Sedation", "Urinary symptoms"} <= terms
