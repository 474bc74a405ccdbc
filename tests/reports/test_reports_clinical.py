"""Known answers for the clinical review's fixes, each on a small hand-built warehouse
(tests/reports/cohort.py's frames, adjusted) so every test fails without its fix:
data time for loads and alerts (A), observed cases vs missing = non-response (B), on-treatment
suicidality (C), Kaplan-Meier estimates only where estimable (E), both sedation definitions (G),
label-group and signal names of the reference (H)."""
from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pytest

from reports.marts import build_in_memory, rebuild_marts
from tests.reports.cohort import _insert, cohort_frames, refresh_core
from warehouse.migrate import migrate

UTC = timezone.utc


def _ledger(con, load_id, registry, exported_at, started_at):
    con.execute("INSERT INTO ops.loads (load_id, registry_id, export_id, exported_at, mode, adapter, status, "
                "row_counts, started_at, finished_at) VALUES (?, ?, ?, ?, 'full', 'kor', 'loaded', ?, ?, ?)",
                [load_id, registry, f"e{load_id}", exported_at, '{"sessions": {"read": 100, "loaded": 100}}',
                 started_at, started_at + timedelta(minutes=1)])


def _alert(con, load_id, assessment_id, raised_at, rule="assessments.phq9_item9.positive", quarantined=False):
    con.execute("INSERT INTO ops.alerts (load_id, registry_id, export_id, table_name, record_id, patient_key, rule, "
                "description, raised_at, quarantined) VALUES (?, 'reg-a', ?, 'assessments', ?, NULL, ?, 'x', ?, ?)",
                [load_id, f"e{load_id}", assessment_id, rule, raised_at, quarantined])


def _warehouse(path, frames, exported_at, started_at):
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    for table, rows in frames.items():
        _insert(con, table, rows, 1, exported_at)
    _ledger(con, 1, "reg-a", exported_at, started_at)
    return con


def _rebuilt(path, frames):
    """A warehouse of `frames` loaded once (May 2025), its marts rebuilt; opened read-only."""
    e = datetime(2025, 5, 1, 23, tzinfo=UTC)
    con = _warehouse(path, frames, e, e)
    refresh_core(con)
    con.close()
    rebuild_marts(path)
    return duckdb.connect(str(path), read_only=True)


# -- A: data time -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def closing_export(tmp_path_factory):
    """reg-a's February closing export: exported 2025-02-28 23:00, loaded 2025-03-01 02:00 (wall clock),
    raising an item-9 alert on a January and on a February PHQ-9; a second load (exported and run in
    March) raises one more alert on the same February assessment."""
    p = tmp_path_factory.mktemp("a") / "w.duckdb"
    con = _warehouse(p, cohort_frames("reg-a", 12, 0), datetime(2025, 2, 28, 23, tzinfo=UTC),
                     datetime(2025, 3, 1, 2, tzinfo=UTC))
    # patient 000: first session 2025-01-06; PHQ-9 at day 7 (January) and day 28 (2025-02-03)
    _alert(con, 1, "reg-a-intranasal-000-phq7", datetime(2025, 3, 1, 2, tzinfo=UTC))
    _alert(con, 1, "reg-a-intranasal-000-phq28", datetime(2025, 3, 1, 2, tzinfo=UTC))
    _ledger(con, 2, "reg-a", datetime(2025, 3, 31, 23, tzinfo=UTC), datetime(2025, 4, 1, 2, tzinfo=UTC))
    _alert(con, 2, "reg-a-intranasal-000-phq28", datetime(2025, 4, 1, 2, tzinfo=UTC))
    refresh_core(con)
    con.close()
    return p


def test_alerts_of_quarantined_rows_count_dated_by_their_export(tmp_path):
    """An item-9 alert raised by a PHQ-9 that went to quarantine (its items did not add up) was
    escalated at load, but the report counted alerts only through loaded rows: it was missing. Now
    counted, in the month of the export that carried it, also when a loaded version of the record
    exists (not twice)."""
    p = tmp_path / "w.duckdb"
    con = _warehouse(p, cohort_frames("reg-a", 12, 0), datetime(2025, 2, 28, 23, tzinfo=UTC),
                     datetime(2025, 3, 1, 2, tzinfo=UTC))
    _alert(con, 1, "reg-a-intranasal-000-phq7", datetime(2025, 3, 1, 2, tzinfo=UTC))  # January, loaded
    _alert(con, 1, "Q1", datetime(2025, 3, 1, 2, tzinfo=UTC), quarantined=True)  # no loaded version
    _alert(con, 1, "reg-a-intranasal-000-phq7", datetime(2025, 3, 1, 2, tzinfo=UTC), "assessments.cssrs.ideation_high",
           quarantined=True)  # a quarantined version of a loaded record
    _alert(con, 1, "Q2", datetime(2025, 3, 1, 2, tzinfo=UTC), "vitals.spo2.low", quarantined=True)  # no suicidality rule
    _ledger(con, 2, "reg-a", datetime(2025, 3, 31, 23, tzinfo=UTC), datetime(2025, 4, 1, 2, tzinfo=UTC))
    _alert(con, 2, "Q3", datetime(2025, 4, 1, 2, tzinfo=UTC), quarantined=True)  # March's export
    refresh_core(con)
    con.close()
    con = _report_marts(p, "2025-02")
    got = {(r, p_): n for r, p_, n in con.execute(
        "SELECT rule, period, alerts FROM marts.suicidality_alerts WHERE registry_id = 'all'").fetchall()}
    con.close()
    assert got == {("assessments.phq9_item9.positive", "2025-02"): 1, ("assessments.phq9_item9.positive", "cumulative"): 2,
                   ("assessments.cssrs.ideation_high", "2025-02"): 1, ("assessments.cssrs.ideation_high", "cumulative"): 1}


def _report_marts(path, month, as_of=None):
    from reports.report import month_bounds

    con, _ = build_in_memory(path, as_of_load=as_of, cutoff=month_bounds(month), report_month=month)
    return con


def test_closing_export_is_in_its_month(closing_export):
    con = _report_marts(closing_export, "2025-02")
    loads = con.execute("SELECT month, status, loads FROM marts.dq_loads").fetchall()
    assert loads == [("2025-02", "loaded", 1)]  # loaded on 2025-03-01, exported on 2025-02-28
    # the March export is not part of the February report
    assert con.execute("SELECT count(*) FROM marts.dq_loads WHERE month > '2025-02'").fetchone()[0] == 0
    con.close()


def test_alerts_dated_by_their_assessment(closing_export):
    con = _report_marts(closing_export, "2025-02")
    got = dict(con.execute("SELECT period, alerts FROM marts.suicidality_alerts WHERE registry_id = 'all'").fetchall())
    # February: the day-28 assessment's two alerts (one raised by the April load of March data: the
    # assessment is February's); cumulative adds the January one; raised_at plays no part
    assert got == {"2025-02": 2, "cumulative": 3}
    con.close()
    con = _report_marts(closing_export, "2025-02", as_of=1)  # --as-of: the warehouse after load 1
    got = dict(con.execute("SELECT period, alerts FROM marts.suicidality_alerts WHERE registry_id = 'all'").fetchall())
    assert got == {"2025-02": 1, "cumulative": 2}
    con.close()
    con = _report_marts(closing_export, "2025-01")
    got = dict(con.execute("SELECT period, alerts FROM marts.suicidality_alerts WHERE registry_id = 'all'").fetchall())
    assert got == {"2025-01": 1, "cumulative": 1}  # the February assessment is after January's cut-off
    con.close()


# -- B, C, G: one adjusted cohort, rebuilt ------------------------------------------------------

@pytest.fixture(scope="module")
def adjusted(tmp_path_factory):
    """cohort reg-a (100 EI, 80 IV), with:
    B: non-responders stop after week 4 (no PHQ-9 after day 28): 40 EI and 40 IV missing at week 8;
    C: every PHQ-9 carries item scores; item 9 = 2 at the pre-treatment baseline (day -1), 0 after;
    G: MOAA/S on the first session of EI patients 0-39: i < 10 pre 5 / post 4; 10-19 no pre / post 4;
       20-29 pre 4 / post 4; 30-39 pre 5 / post 3 (assessed_at only: pre by time, no minutes)."""
    f = cohort_frames("reg-a", 100, 80)
    keep = []
    for a in f["assessments"]:
        if a["instrument"] == "PHQ9":
            day = int(a["assessment_id"].rsplit("phq", 1)[1])
            if day > 28 and a["total_score"] == 15:
                continue  # a non-responder who stopped
            a["item_scores"] = "1;1;1;1;1;1;1;1;" + ("2" if day < 0 else "0")
        keep.append(a)
    f["assessments"] = keep
    for s in f["sessions"]:
        pk, j = s["patient_key"], int(s["session_id"].rsplit("-s", 1)[1])
        i = int(pk.rsplit("-", 1)[1])
        if s["drug"] != "esketamine" or j != 0 or i >= 40:
            continue
        pre, post = {0: (5, 4), 1: (None, 4), 2: (4, 4), 3: (5, 3)}[i // 10]
        start = s["session_start"]
        for tag, score, at, mins in (("pre", pre, start - timedelta(minutes=5), 0), ("post", post, start + timedelta(minutes=30), 30)):
            if score is not None:
                f["assessments"].append({"registry_id": "reg-a", "assessment_id": f"{s['session_id']}-moaas-{tag}",
                                         "patient_key": pk, "session_id": s["session_id"], "assessed_at": at,
                                         "instrument": "MOAAS", "total_score": score,
                                         "minutes_after_dose": mins if i // 10 != 3 else None})
    p = tmp_path_factory.mktemp("b") / "w.duckdb"
    e = datetime(2025, 5, 1, 23, tzinfo=UTC)
    con = _warehouse(p, f, e, e)
    refresh_core(con)
    con.close()
    rebuild_marts(p)
    con = duckdb.connect(str(p), read_only=True)
    yield con
    con.close()


@pytest.mark.parametrize("drug,n_obs,resp,n_followed", [("esketamine", 60, 60, 100), ("ketamine", 40, 40, 80)])
def test_week8_missing_as_nonresponse(adjusted, drug, n_obs, resp, n_followed):
    r = adjusted.execute("SELECT patients_evaluable, responders, response_rate, patients_followed, responders_followed, "
                         "response_followed_rate, response_followed_ci_low, response_followed_ci_high FROM marts.response_rates "
                         "WHERE registry_id = 'reg-a' AND drug = ? AND instrument = 'PHQ9' AND week = 8", [drug]).fetchone()
    assert r[:2] == (n_obs, resp) and r[2] == pytest.approx(1.0)  # observed cases: every one a responder
    assert r[3:5] == (n_followed, resp) and r[5] == pytest.approx(resp / n_followed)
    assert r[6] < resp / n_followed < r[7]


def test_followed_only_once_window_closed(adjusted):
    # rebuild: data end = the day after the registry's latest export (exported 2025-05-01: 2025-05-02),
    # not its latest session (2025-04-19); the week-12 window (to day 98) has closed only for first
    # sessions before 2025-01-24: i % 20 < 18
    r = adjusted.execute("SELECT patients_followed FROM marts.response_rates WHERE registry_id = 'reg-a' "
                         "AND drug = 'esketamine' AND instrument = 'PHQ9' AND week = 12").fetchone()
    assert r[0] == 90


def test_suicidality_on_treatment_only(adjusted):
    r = adjusted.execute("SELECT units_evaluable, units_flagged, patients_flagged FROM marts.session_safety "
                         "WHERE registry_id = 'reg-a' AND drug = 'all' AND measure = 'PHQ-9 item 9 >= 1' "
                         "AND period = 'cumulative'").fetchone()
    # EI: 5 PHQ-9 after the first session for responders, 3 for the 40 who stopped; IV: 40 x 6 + 40 x 3
    assert r == (60 * 5 + 40 * 3 + 40 * 5 + 40 * 3, 0, 0)


def test_sedation_both_definitions(adjusted):
    got = dict(adjusted.execute("SELECT measure, units_flagged FROM marts.session_safety WHERE registry_id = 'reg-a' "
                                "AND drug = 'esketamine' AND domain = 'sedation' AND period = 'cumulative'").fetchall())
    assert got["MOAA/S <= 3 after dose (moderate or greater)"] == 10
    # any decrease: pre 5 -> 4 (10), no pre (5 assumed) -> 4 (10), pre 5 -> 3 (10); pre 4 -> 4 is none
    assert got["MOAA/S below pre-dose after dose (any decrease; 5 if none recorded)"] == 30
    assert got["MOAA/S = 0 (loss of consciousness)"] == 0


# -- E: Kaplan-Meier estimates ------------------------------------------------------------------

def test_km_not_estimated_where_few_at_risk_or_none_assessed():
    from reports import stats

    # 30 patients, first assessed at day 28: no estimate by day 7 (not a 0.0 % (0.0-0.0) one)
    d = np.array([28.0] * 20 + [60.0] * 10)
    e = np.array([True] * 20 + [False] * 10)
    table, summ = stats.kaplan_meier(d, e)
    ds = np.sort(d)
    assert np.isnan(stats.km_at(table, 7, ds, 28)[0])
    assert stats.km_at(table, 28, ds, 28)[0] == pytest.approx(20 / 30)
    assert np.isnan(stats.km_at(table, 40, ds, 28)[0])  # 10 still at risk: not > 10
    # a median reached only in the tail (<= 10 at risk) is not reported
    d = np.array([10.0] * 20 + [50.0] * 6 + [80.0] * 4)
    e = np.array([False] * 20 + [True] * 6 + [False] * 4)
    _, summ = stats.kaplan_meier(d, e)
    assert summ["median"] is None and summ["median_ci_low"] is None


# -- H: names of the reference -------------------------------------------------------------------

@pytest.mark.parametrize("term,group,signal", [
    ("Urinary frequency", None, "Urinary symptoms"), ("Hematuria", None, "Urinary symptoms"),
    ("Urinary urgency", None, "Urinary symptoms"), ("Hallucinations", "Dissociation", None),
    ("GGT increased", None, "Hepatic"), ("Alkaline phosphatase increased", None, "Hepatic"),
    ("Blood bilirubin increased", None, "Hepatic")])
def test_reference_terms_grouped(term, group, signal):
    from reports.marts import SQL_DIR

    con = duckdb.connect()
    con.execute((SQL_DIR / "seed_label_groups.sql").read_text())
    assert con.execute("SELECT label_group, signal FROM seed_label_groups WHERE pt_lower = lower(?)",
                       [term]).fetchone() == (group, signal)


# -- respiratory depression and esketamine at home (second clinical review) ----------------------

def test_respiratory_and_home_use_are_reported(tmp_path):
    """SpO2 after dosing and esketamine at home existed only as load alerts; the REMS names both."""
    f = cohort_frames("reg-a", 40, 20)
    for v in f["vitals"]:
        i = int(v["session_id"].rsplit("-", 2)[1])
        if v["timepoint"] == "post40" and v["session_id"].endswith("-s0") and "intranasal" in v["session_id"] and i < 12:
            v["spo2"] = 88
    for s in f["sessions"]:
        i = int(s["session_id"].rsplit("-", 2)[1])
        if s["drug"] == "esketamine" and s["session_id"].endswith("-s1") and 12 <= i < 24:
            s["setting"] = "home"
    con = _rebuilt(tmp_path / "w.duckdb", f)
    got = {m: (u, fl, pf) for m, u, fl, pf in con.execute(
        "SELECT measure, units_evaluable, units_flagged, patients_flagged FROM marts.session_safety "
        "WHERE registry_id = 'reg-a' AND drug = 'esketamine' AND period = 'cumulative' "
        "AND domain IN ('respiratory', 'rems')").fetchall()}
    sessions = con.execute("SELECT count(*) FROM core.sessions WHERE drug = 'esketamine'").fetchone()[0]
    con.close()
    assert got["SpO2 < 92 % after dose"] == (sessions, 12, 12)
    assert got["Esketamine at home (REMS violation)"] == (sessions, 12, 12)


def test_a_post_dose_bp_over_the_absolute_limits_counts_without_a_pre_dose_reading(tmp_path):
    """SBP >= 180 and DBP >= 110 after dose needed a pre-dose reading too: a session of 190/115 with
    no pre-dose reading was neither evaluable nor flagged, though the load raised its alerts. The rises
    still need both readings."""
    f = cohort_frames("reg-a", 40, 0, plant=False)
    gone = {f"reg-a-intranasal-{i:03d}-s0" for i in range(12)}  # 12 first sessions: no pre-dose reading,
    f["vitals"] = [v for v in f["vitals"] if not (v["session_id"] in gone and v["timepoint"] == "pre")]
    for v in f["vitals"]:  # ... and 190/115 after the dose
        if v["session_id"] in gone and v["timepoint"] == "post40":
            v.update(sbp=190, dbp=115)
    con = _rebuilt(tmp_path / "w.duckdb", f)
    got = {m: (e, u, fl, pf) for m, e, u, fl, pf in con.execute(
        "SELECT measure, evaluable_on, units_evaluable, units_flagged, patients_flagged FROM marts.session_safety "
        "WHERE registry_id = 'reg-a' AND drug = 'esketamine' AND period = 'cumulative' "
        "AND domain = 'blood_pressure'").fetchall()}
    with_post = con.execute("SELECT count(DISTINCT session_id) FROM core.vitals WHERE timepoint = 'post40'").fetchone()[0]
    con.close()
    assert got["SBP >= 180 after dose"] == ("post-dose BP", with_post, 12, 12)
    assert got["DBP >= 110 after dose"] == ("post-dose BP", with_post, 12, 12)
    assert got["SBP rise >= 40"] == ("pre- and post-dose BP", with_post - 12, 0, 0)
    assert got["Any notable BP rise"] == ("pre- and post-dose BP", with_post - 12, 0, 0)


def test_oral_ketamine_has_its_own_dose_bands(tmp_path):
    """Oral ketamine is ~20-25 % bioavailable: 1.0 mg/kg orally is not the IV band '>0.5-1.0 mg/kg'."""
    f = cohort_frames("reg-a", 0, 20)
    for s in f["sessions"]:
        i = int(s["session_id"].rsplit("-", 2)[1])
        if i < 12:
            s.update(route="oral", dose_mg_per_kg=1.0 if i < 6 else 3.0, dose_mg=80.0 if i < 6 else 240.0,
                     infusion_minutes=None)
    con = _rebuilt(tmp_path / "w.duckdb", f)
    bands = dict(con.execute("SELECT dose_band, patients FROM marts.exposure WHERE registry_id = 'reg-a' AND site_id = 'all' "
                             "AND route = 'oral' AND phase = 'all' AND period = 'cumulative' AND dose_band <> 'all'").fetchall())
    con.close()
    assert bands == {"oral 1.0-2.5 mg/kg": 6, "oral >2.5 mg/kg": 6}


def test_relapse_needs_two_non_responses_at_least_5_days_apart(tmp_path):
    """Two PHQ-9 scores of one day above half the baseline made a 'relapse' of a patient who
    responded again a week later (relapse was untested). The second of the two must come >= 5 days
    after the first, and dates the relapse."""
    f = cohort_frames("reg-a", 2, 0, plant=False)
    f["assessments"] = [a for a in f["assessments"] if a["instrument"] != "PHQ9"]
    for i, series in enumerate([[(-1, 0, 20), (7, 0, 8), (14, 0, 12), (14, 10, 12), (21, 0, 6)],   # same day: no relapse
                                [(-1, 0, 20), (7, 0, 8), (14, 0, 12), (21, 0, 13), (28, 0, 6)]]):  # 7 days apart
        pk = f"reg-a-intranasal-{i:03d}"
        first = min(s["session_start"] for s in f["sessions"] if s["patient_key"] == pk)
        f["assessments"] += [{"registry_id": "reg-a", "assessment_id": f"{pk}-r{n}", "patient_key": pk, "session_id": None,
                              "assessed_at": first + timedelta(days=d, hours=h), "instrument": "PHQ9", "total_score": sc,
                              "minutes_after_dose": None} for n, (d, h, sc) in enumerate(series)]
    con = _rebuilt(tmp_path / "w.duckdb", f)
    got = sorted(con.execute("SELECT relapsed, round(days_to_relapse, 2) FROM marts.time_to_response "
                             "WHERE instrument = 'PHQ9'").fetchall())
    con.close()
    assert got == [(False, 14.0), (True, 14.0)]  # censored at day 21 after response on day 7; relapse on day 21


def test_a_baseline_already_in_remission_is_not_evaluable(tmp_path):
    """A baseline PHQ-9 of 4 then 3 counted as a remitter, 2 then 1 as a responder and a remitter:
    no change made either. A baseline at or below the remission cut-off is not evaluable."""
    f = cohort_frames("reg-a", 20, 0, plant=False)  # PHQ-9 baseline 20, 15 at week 4: evaluable non-responders
    for a in f["assessments"]:
        i = int(a["assessment_id"].split("-")[3])
        if a["instrument"] == "PHQ9" and i < 2:  # 000: 4 -> 3; 001: 2 -> 1
            a["total_score"] = (4 if i == 0 else 2) if a["assessment_id"].endswith("phq-1") else (3 if i == 0 else 1)
    con = _rebuilt(tmp_path / "w.duckdb", f)
    got = con.execute("SELECT patients_evaluable, responders, remitters FROM marts.response_rates WHERE registry_id = 'all' "
                      "AND drug = 'all' AND instrument = 'PHQ9' AND week = 4").fetchone()
    ttr = con.execute("SELECT count(*), count(*) FILTER (WHERE responded) FROM marts.time_to_response "
                      "WHERE instrument = 'PHQ9'").fetchone()
    con.close()
    assert got == (18, 0, 0)
    assert ttr == (18, 0)


def test_time_to_response_counts_hours(tmp_path):
    """Relief within hours of the first dose: a PHQ-9 4 hours after it was 'day 0' and left out."""
    f = cohort_frames("reg-a", 100, 0)
    for s in [s for s in f["sessions"] if s["session_id"].endswith("-s0")]:
        i = int(s["session_id"].rsplit("-", 2)[1])
        if i < 30:
            f["assessments"].append({"registry_id": "reg-a", "assessment_id": f"{s['patient_key']}-phq-4h",
                                     "patient_key": s["patient_key"], "session_id": None,
                                     "assessed_at": s["session_start"] + timedelta(hours=4), "instrument": "PHQ9",
                                     "total_score": 9, "minutes_after_dose": None})
    con = _rebuilt(tmp_path / "w.duckdb", f)
    fastest = con.execute("SELECT min(days_to_response) FROM marts.time_to_response WHERE responded").fetchone()[0]
    by_day1 = con.execute("SELECT cum_incidence_d1 FROM marts.km_summary WHERE registry_id = 'reg-a' AND drug = 'all' "
                          "AND instrument = 'PHQ9' AND outcome = 'response'").fetchone()[0]
    con.close()
    assert fastest == pytest.approx(4 / 24)
    assert by_day1 == pytest.approx(0.30)
