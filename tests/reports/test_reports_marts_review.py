"""Known answers for the marts review (AE denominators, response rows, treatment-emergent AEs,
preferred-term case, label-group spellings, site of early-treated patients, regimen tie-break),
each on a small hand-made warehouse so every test fails without its fix."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from reports.marts import build_in_memory
from tests.reports.cohort import frames_warehouse

UTC = timezone.utc


def _patient(pk, registry="reg-a", site="north", enrolled_on=date(2025, 5, 1)):
    return {"registry_id": registry, "patient_key": pk, "birth_year": 1975, "age_at_enrolment": 50, "sex": "F",
            "zip3": "021", "enrolled_on": enrolled_on, "site_id": site, "trd_failed_trials": 3,
            "diagnosis_icd10": "F33.2"}


def _session(pk, day, n, registry="reg-a", drug="esketamine", route="intranasal", **kw):
    ei = drug == "esketamine"
    r = {"registry_id": registry, "session_id": f"{pk}-s{n}", "patient_key": pk,
         "session_start": datetime(day.year, day.month, day.day, 9, tzinfo=UTC), "drug": drug, "route": route,
         "dose_mg": 56.0 if ei else 40.0, "dose_mg_per_kg": None if ei else 0.5, "weight_kg": None if ei else 80.0,
         "infusion_minutes": None if ei else 40, "devices": 2 if ei else None, "setting": "clinic",
         "monitoring_minutes": 125}
    r.update(kw)
    return r


def _ae(pk, n, onset, pt, registry="reg-a", term=None, **kw):
    r = {"registry_id": registry, "ae_id": f"{pk}-ae{n}", "patient_key": pk, "session_id": None, "onset_date": onset,
         "term": term or pt.lower(), "meddra_pt": pt, "severity": "mild", "serious": False, "hospitalization": False,
         "death": False, "life_threatening": False, "disability": False, "congenital_anomaly": False,
         "medically_important": False, "related": "possible", "outcome": "recovered", "resolved_date": None,
         "meddra_code": None}
    r.update(kw)
    return r


def _patients_with(sessions: dict[str, list[date]], **kw):
    """patients and sessions: {patient_key: [session days]}."""
    pats, sess = [], []
    for pk, days in sessions.items():
        pats.append(_patient(pk, **kw))
        sess += [_session(pk, d, n) for n, d in enumerate(days)]
    return pats, sess


def _add_scores(frames, session, instrument, day_scores):
    """Scores of the session's patient, (day after the session, total) each, an hour before that time of day."""
    for d, sc in day_scores:
        frames["assessments"].append({"registry_id": "reg-a", "assessment_id": f"{session['patient_key']}-{instrument}{d}",
                                      "patient_key": session["patient_key"], "session_id": None,
                                      "assessed_at": session["session_start"] + timedelta(days=d, hours=-1),
                                      "instrument": instrument, "total_score": sc, "minutes_after_dose": None})


def _warehouse(path, frames, exported_at=datetime(2025, 7, 31, 23, tzinfo=UTC)):
    return frames_warehouse(path, frames, exported_at)


def _report(path, month):
    """The marts as a report for `month` builds them (in memory, cut off at the month's end)."""
    from reports.report import month_bounds

    con, _ = build_in_memory(path, cutoff=month_bounds(month), report_month=month)
    return con


def _ae_row(con, period, cols, level="any", term="Any adverse event", drug="all"):
    return con.execute(f"SELECT {cols} FROM marts.ae_rates WHERE registry_id = 'reg-a' AND drug = ? AND level = ? "
                       "AND term = ? AND period = ?", [drug, level, term, period]).fetchone()


# -- 1: a month's AE numerators are its exposed patients' --------------------------------------

def test_monthly_ae_numerators_limited_to_the_month_exposed(tmp_path):
    """July report. A: sessions in June only, AE on July 3 (after the last session): not exposed in
    July, counted in 'cumulative' only. B: July sessions, no AE. C: sessions June 28 and July 20, AE
    on July 3 (before C's first July session: under the June session's exposure, credited to June):
    cumulative only. D: sessions July 1 and 10, AE July 5: July's only patient with an event."""
    pats, sess = _patients_with({
        "A": [date(2025, 6, 2), date(2025, 6, 28)],
        "B": [date(2025, 7, 1), date(2025, 7, 8), date(2025, 7, 15)],
        "C": [date(2025, 6, 28), date(2025, 7, 20)],
        "D": [date(2025, 7, 1), date(2025, 7, 10)]})
    aes = [_ae("A", 1, date(2025, 7, 3), "Nausea"), _ae("C", 1, date(2025, 7, 3), "Nausea"),
           _ae("D", 1, date(2025, 7, 5), "Nausea")]
    con = _report(_warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "adverse_events": aes}),
                  "2025-07")
    cols = "patients_exposed, patients_with_event, events, new_patients_with_event, patient_years, py_at_risk"
    jul = _ae_row(con, "2025-07", cols)
    assert jul[:4] == (3, 1, 1, 1)  # B, C, D exposed; D the only one with an event
    # exposure: B 7 + 7 + 7, C 7 (July 20, to the cut-off 7), D 9 + 7; at risk: B 21, C 0 (its
    # first onset was before), D July 1-5 = 5
    assert jul[4] == pytest.approx(44 / 365.25) and jul[5] == pytest.approx(26 / 365.25)
    cum = _ae_row(con, "cumulative", cols)
    assert cum[:4] == (4, 3, 3, 3)
    # the incidence proportion of the month is among its exposed: never above 100 %
    prop = con.execute("SELECT max(patients_with_event / patients_exposed) FROM marts.ae_rates "
                       "WHERE period = '2025-07'").fetchone()[0]
    assert prop <= 1
    con.close()


# -- 2: a week whose followed patients all lack a score keeps its row --------------------------

def test_followed_row_kept_without_observed_scores(tmp_path):
    """PHQ-9: 20 EI patients scored at week 4; 12 IV patients followed to week 4 without a week-4
    score (none between days 21 and 35). MADRS: the 20 EI patients scored, 5 IV patients with a
    baseline only. The IV rows used to be dropped (HAVING count(score) > 0) with their
    patients_followed: the groups no longer added up to 'all', and 'all' minus EI gave the
    missing group's count (5, a small cell) in the report."""
    import csv

    from reports.report import generate_report
    from tests.reports.cohort import cohort_frames

    f = cohort_frames("reg-a", 20, 12)
    f["assessments"] = [a for a in f["assessments"]
                        if not ("-iv-" in a["assessment_id"] and a["assessment_id"].endswith("-phq28"))]
    for s in f["sessions"]:
        i = int(s["patient_key"].rsplit("-", 1)[1])
        if s["session_id"].endswith("-s0") and (s["drug"] == "esketamine" or i < 5):
            _add_scores(f, s, "MADRS", ((-1, 30), (28, 14)) if s["drug"] == "esketamine" else ((-1, 30),))
    path = _warehouse(tmp_path / "w.duckdb", f, exported_at=datetime(2025, 5, 1, 23, tzinfo=UTC))
    con = _report(path, "2025-03")
    got = {(i, d): v for i, d, *v in con.execute(
        "SELECT instrument, drug, patients_evaluable, responders, remitters, remitters_alt, patients_followed, "
        "responders_followed, response_rate, mean_score, response_followed_rate, response_followed_ci_low, "
        "response_followed_ci_high FROM marts.response_rates WHERE registry_id = 'reg-a' AND week = 4").fetchall()}
    # a group without evaluable patients is not compared (nor taken as the reference)
    assert con.execute("SELECT count(*) FROM marts.comparisons WHERE n = 0 OR ref_n = 0").fetchone()[0] == 0
    con.close()
    assert got[("PHQ9", "ketamine")][:8] == [0, 0, 0, None, 12, 0, None, None]  # no observed rate, not 0 %
    assert got[("PHQ9", "ketamine")][8:] == [0, pytest.approx(0), pytest.approx(0.2425, abs=1e-3)]  # Wilson 0/12
    assert got[("MADRS", "ketamine")][:8] == [0, 0, 0, 0, 5, 0, None, None]
    for inst, n in (("PHQ9", 32), ("MADRS", 25)):
        assert got[(inst, "all")][4] == got[(inst, "esketamine")][4] + got[(inst, "ketamine")][4] == n

    # the report shows the row without an observed rate and hides the small followed count
    out = generate_report("2025-03", tmp_path / "r", warehouse_path=path, pdf=False)
    with open(out["data"]) as fh:
        rows = {(r["measure"], r["stratum"]): r for r in csv.DictReader(fh) if r["section"] == "efficacy"}
    st = "instrument=PHQ9; group=ketamine iv; week=4"
    assert rows[("patients_evaluable", st)]["value"] == "0" and rows[("response_rate", st)]["value"] == ""
    assert rows[("patients_followed", st)]["value"] == "12"
    assert float(rows[("response_rate_missing_as_nonresponse", st)]["value"]) == 0
    st = "instrument=MADRS; group=ketamine iv; week=4"
    assert rows[("patients_followed", st)]["suppressed"] == "true"
    # 'all' minus the other group would give 5: one of them is hidden too
    assert "true" in [rows[("patients_followed", f"instrument=MADRS; group={g}; week=4")]["suppressed"]
                      for g in ("esketamine intranasal", "all groups")]
    assert not re.search(r"\bnan\b", open(out["html"]).read(), re.I)


# -- 3: treatment-emergent AEs only in the rates -------------------------------------------------

def test_pretreatment_aes_left_out_of_rates_and_counted_in_data_quality(tmp_path):
    """A: first session June 10; Anxiety and a serious Syncope on June 9 (the contract allows onset
    from the first session - 1 day), Nausea June 12. B: session June 2, Nausea the same day. The
    June 9 events counted as on-treatment with zero time at risk (A's first onset before its first
    dose removed all its exposure) and the SAE was listed at day -1."""
    import csv

    from reports.report import generate_report

    pats, sess = _patients_with({"A": [date(2025, 6, 10)], "B": [date(2025, 6, 2)]})
    aes = [_ae("A", 1, date(2025, 6, 9), "Anxiety"),
           _ae("A", 2, date(2025, 6, 9), "Syncope", serious=True, hospitalization=True),
           _ae("A", 3, date(2025, 6, 12), "Nausea"), _ae("B", 1, date(2025, 6, 2), "Nausea")]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "adverse_events": aes})
    con = _report(path, "2025-06")
    cols = "patients_with_event, events, new_patients_with_event, py_at_risk"
    any_ = _ae_row(con, "cumulative", cols)
    assert any_[:3] == (2, 2, 2)
    assert any_[3] == pytest.approx((3 + 1) / 365.25)  # A: June 10-12, B: June 2
    assert _ae_row(con, "2025-06", cols)[:3] == (2, 2, 2)
    assert con.execute("SELECT count(*) FROM marts.ae_rates WHERE term IN ('Anxiety', 'Syncope')").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM marts.sae_listing").fetchone()[0] == 0
    # not lost: counted in data quality
    assert con.execute("SELECT registry_id, month, events, serious_events, patients FROM marts.dq_pretreatment_ae"
                       ).fetchall() == [("reg-a", "2025-06", 2, 1, 1)]
    con.close()
    out = generate_report("2025-06", tmp_path / "r", warehouse_path=path, pdf=False)
    with open(out["data"]) as fh:
        rows = [r for r in csv.DictReader(fh) if r["measure"].startswith("pretreatment_ae")]
    assert {r["measure"] for r in rows} == {"pretreatment_ae_events", "pretreatment_ae_serious"}
    assert all(r["suppressed"] == "true" for r in rows)  # 2 and 1: small counts


def test_hepatic_lab_signal_counts_one_event_per_blood_draw(tmp_path):
    """H: sessions from June 2. June 1 (before the first dose): ALT 200 / ULN 40. June 16: ALT 154 /
    ULN 40 and AST 149 / ULN 35 from the same draw, June 30: AST 120 / ULN 35 only (ALT 50 normal).
    The June 16 draw used to count as two events (one per lab row): 3 events, not 2."""
    pats, sess = _patients_with({"H": [date(2025, 6, 2), date(2025, 6, 9), date(2025, 6, 16)]})

    def lab(n, day, test, value, uln):
        return {"registry_id": "reg-a", "lab_id": f"H-l{n}", "patient_key": "H", "collected_on": day,
                "test": test, "value": value, "unit": "U/L", "uln": uln}

    labs = [lab(0, date(2025, 6, 1), "ALT", 200.0, 40.0),
            lab(1, date(2025, 6, 16), "ALT", 154.0, 40.0), lab(2, date(2025, 6, 16), "AST", 149.0, 35.0),
            lab(3, date(2025, 6, 30), "ALT", 50.0, 40.0), lab(4, date(2025, 6, 30), "AST", 120.0, 35.0)]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "labs": labs})
    con = _report(path, "2025-06")
    cols = "patients_with_event, events, new_patients_with_event"
    term = "ALT/AST >= 3x ULN (labs)"
    assert _ae_row(con, "cumulative", cols, level="signal", term=term) == (1, 2, 1)
    assert _ae_row(con, "2025-06", cols, level="signal", term=term) == (1, 2, 1)
    assert con.execute("SELECT events FROM marts.long_term WHERE registry_id = 'all' AND drug = 'all' "
                       "AND term = ? AND period = 'cumulative'", [term]).fetchone() == (2,)
    con.close()


# -- 4: one preferred term whatever its letter case ----------------------------------------------

def test_preferred_term_case_insensitive(tmp_path):
    """'Nausea' (twice), 'nausea' and ' NAUSEA ' are one PT, shown as the most frequent spelling;
    'VOMITING' and 'vomiting' (a tie, neither in mixed case): the first by byte order."""
    pats, sess = _patients_with({"A": [date(2025, 6, 2), date(2025, 6, 9)], "B": [date(2025, 6, 3)]})
    aes = [_ae("A", 1, date(2025, 6, 2), "Nausea"), _ae("A", 2, date(2025, 6, 9), "nausea"),
           _ae("B", 1, date(2025, 6, 3), " NAUSEA ", serious=True), _ae("B", 2, date(2025, 6, 4), "Nausea"),
           _ae("A", 3, date(2025, 6, 3), "vomiting"), _ae("B", 3, date(2025, 6, 3), "VOMITING")]
    con = _report(_warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "adverse_events": aes}),
                  "2025-06")
    got = con.execute("SELECT term, patients_with_event, events FROM marts.ae_rates WHERE registry_id = 'reg-a' "
                      "AND drug = 'all' AND level = 'pt' AND period = 'cumulative' ORDER BY term").fetchall()
    assert got == [("Nausea", 2, 4), ("VOMITING", 2, 2)]
    assert con.execute("SELECT meddra_pt FROM marts.sae_listing").fetchall() == [("Nausea",)]
    con.close()


# -- 5: label-group spellings of the reference ---------------------------------------------------

def _seed():
    from reports.marts import SQL_DIR

    con = duckdb.connect()
    con.execute((SQL_DIR / "seed_label_groups.sql").read_text())
    return con


@pytest.mark.parametrize("term,group,signal", [
    # clinical-reference 4.1, label wording (US spellings)
    ("Paresthesia", "Dissociation", None), ("Paresthesia oral", "Dissociation", None),
    ("Pharyngeal paresthesia", "Dissociation", None), ("Dysesthesia", "Dissociation", None),
    ("Derealization", "Dissociation", None), ("Depersonalization/derealization disorder", "Dissociation", None),
    ("Hypoesthesia", "Hypoaesthesia", None), ("Hypoesthesia oral", "Hypoaesthesia", None),
    ("Intranasal hypoesthesia", "Hypoaesthesia", None), ("Pharyngeal hypoesthesia", "Hypoaesthesia", None),
    ("BP increased", "Blood pressure increased", None), ("BP systolic increased", "Blood pressure increased", None),
    ("BP diastolic increased", "Blood pressure increased", None),
    # 4.2, CTCAE terms (LLTs)
    ("Cognitive disturbance", None, "Cognitive"), ("Concentration impairment", None, "Cognitive"),
    ("Blurred vision", "Dissociation", None)])
def test_reference_spellings_grouped(term, group, signal):
    assert _seed().execute("SELECT label_group, signal FROM seed_label_groups WHERE pt_lower = lower(?)",
                           [term]).fetchone() == (group, signal)


def test_every_uk_spelling_has_its_us_pair():
    con = _seed()
    rows = con.execute("SELECT pt_lower, label_group, signal FROM seed_label_groups").fetchall()
    got = {pt: (g, s) for pt, g, s in rows}
    assert len(got) == len(rows)  # no term twice
    for uk, us in (("aes", "es"), ("isation", "ization"), ("haem", "hem")):
        for pt, v in list(got.items()):
            if uk in pt:
                assert got.get(pt.replace(uk, us)) == v, pt
            if us in pt and uk not in pt and pt.replace(us, uk) in got:
                assert got[pt.replace(us, uk)] == v, pt


# -- 6: a patient treated before the cut-off and enrolled after it keeps its site -----------------

def test_site_of_patient_enrolled_after_cutoff(tmp_path):
    """Q: session June 20, enrolled July 5 (the contract allows sessions from enrolled_on - 30
    days), site east. R: enrolled June 1, session June 10, site north. S: enrolled July 10, first
    session July 12 (after the June cut-off). Q used to show under site 'unknown' in June."""
    from reports.report import month_bounds
    from reports.sources import create_sources

    pats = [_patient("Q", site="east", enrolled_on=date(2025, 7, 5)), _patient("R", enrolled_on=date(2025, 6, 1)),
            _patient("S", site="west", enrolled_on=date(2025, 7, 10))]
    sess = [_session("Q", date(2025, 6, 20), 0), _session("R", date(2025, 6, 10), 0), _session("S", date(2025, 7, 12), 0)]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess})
    con = _report(path, "2025-06")
    got = dict(con.execute("SELECT site_id, patients FROM marts.exposure WHERE registry_id = 'reg-a' AND site_id <> 'all' "
                           "AND drug = 'all' AND dose_band = 'all' AND phase = 'all' AND period = '2025-06'").fetchall())
    con.close()
    assert got == {"east": 1, "north": 1}
    # the June view of patients: enrolled by then, or treated by then (Q); not S
    con = duckdb.connect(str(path), read_only=True)
    create_sources(con, cutoff=month_bounds("2025-06"))
    assert sorted(r[0] for r in con.execute("SELECT patient_key FROM src_patients").fetchall()) == ["Q", "R"]
    con.close()


# -- 7: regimen tie-break by band order ---------------------------------------------------------

def test_regimen_tie_goes_to_the_lowest_band(tmp_path):
    """Induction of 2 sessions at 0.5 mg/kg and 2 at 0.4 mg/kg: a tie, the lowest band is
    '<0.5 mg/kg' (as text '0.5 mg/kg' sorted first)."""
    days = [date(2025, 6, 2), date(2025, 6, 5), date(2025, 6, 9), date(2025, 6, 12)]
    sess = [_session("P", d, n, drug="ketamine", route="iv", dose_mg_per_kg=0.5 if n < 2 else 0.4)
            for n, d in enumerate(days)]
    phq = [{"registry_id": "reg-a", "assessment_id": f"P-phq{d}", "patient_key": "P", "session_id": None,
            "assessed_at": datetime(2025, 6, 2, 8, tzinfo=UTC) + timedelta(days=d), "instrument": "PHQ9",
            "total_score": sc, "minutes_after_dose": None} for d, sc in ((-1, 20), (7, 8))]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": [_patient("P")], "sessions": sess, "assessments": phq})
    con = _report(path, "2025-06")
    got = con.execute("SELECT DISTINCT regimen FROM marts.regimen_response").fetchall()
    con.close()
    assert got == [("ketamine iv <0.5 mg/kg",)]


def test_dose_band_order_covers_every_band():
    """Every band int_sessions can produce has a rank, in the order of its CASE."""
    import re as _re

    from reports.marts import SQL_DIR

    sql = (SQL_DIR / "int_sessions.sql").read_text()
    case = sql[sql.index("CASE\n           WHEN drug = 'esketamine'"):sql.index("END AS dose_band")]
    bands = _re.findall(r"THEN '([^']+)'", case) + ["unknown"]
    con = duckdb.connect()
    con.execute(sql[sql.index("CREATE OR REPLACE TEMP MACRO dose_band_order"):])
    ranks = [con.execute("SELECT dose_band_order(?)", [b]).fetchone()[0] for b in ["28 mg", "56 mg", "84 mg"] + bands]
    assert None not in ranks and ranks[:3] == sorted(ranks[:3])
    fam = {b: r for b, r in zip(["28 mg", "56 mg", "84 mg"] + bands, ranks)}
    assert fam["<0.5 mg/kg"] < fam["0.5 mg/kg"] < fam[">0.5-1.0 mg/kg"] < fam[">1.0 mg/kg"]
    assert fam["oral <1.0 mg/kg"] < fam["oral 1.0-2.5 mg/kg"] < fam["oral >2.5 mg/kg"]
    assert fam["<50 mg"] < fam["50-99 mg"] < fam[">=100 mg"] and fam["unknown"] == max(ranks)


# -- the "missing = non-response" follow-up ends with each registry's own data ----------------

def test_a_lagging_registry_s_patients_are_not_followed_past_its_data(tmp_path):
    """Rebuild (no cut-off): reg-b's data end on 20 January, reg-a's run to June. B1 used to count as
    followed to weeks 4-12 (missing = non-response) because reg-a's sessions set the data end."""
    pats = [_patient("A1"), _patient("B1", registry="reg-b")]
    days_a = [date(2025, 1, 6) + timedelta(days=7 * i) for i in range(26)]
    days_b = [date(2025, 1, 6), date(2025, 1, 13), date(2025, 1, 20)]
    sess = [_session("A1", d, n) for n, d in enumerate(days_a)] + \
           [_session("B1", d, n, registry="reg-b") for n, d in enumerate(days_b)]
    base = [{"registry_id": r, "assessment_id": f"{pk}-b", "patient_key": pk, "session_id": None,
             "assessed_at": datetime(2025, 1, 5, 9, tzinfo=UTC), "instrument": "PHQ9", "total_score": 20,
             "minutes_after_dose": None} for r, pk in (("reg-a", "A1"), ("reg-b", "B1"))]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "assessments": base})
    con, _ = build_in_memory(path)
    followed = dict(con.execute("SELECT week, patients_followed FROM marts.response_rates WHERE registry_id = 'reg-b' "
                                "AND drug = 'all' AND instrument = 'PHQ9'").fetchall())
    con.close()
    assert {w: n for w, n in followed.items() if n} == {1: 1}  # day 14 of data: week 1's window (to day 10) only


def test_a_lagging_registry_s_data_end_is_its_latest_export_in_a_report_too(tmp_path):
    """Pooled June report; reg-b's export of 31 January is its latest loaded one up to load 2 (load 3,
    exported 30 April, comes later). B1 (first session 6 January) has data to 1 February: followed to
    weeks 1 and 2 only. The report used to take the cut-off (1 July) as every registry's data end:
    B1 counted as followed, and as a non-responder, to weeks 1-12. A rebuild and a report now agree,
    and --as-of decides which exports count."""
    from tests.reports.cohort import _insert, _ledger, refresh_core
    from warehouse.migrate import migrate

    days_a = [date(2025, 1, 6) + timedelta(days=7 * i) for i in range(26)]
    days_b = [date(2025, 1, 6), date(2025, 1, 13), date(2025, 1, 20)]

    def base(registry, pk):
        return {"registry_id": registry, "assessment_id": f"{pk}-b", "patient_key": pk, "session_id": None,
                "assessed_at": datetime(2025, 1, 5, 9, tzinfo=UTC), "instrument": "PHQ9", "total_score": 20,
                "minutes_after_dose": None}

    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    ea, eb, eb2 = (datetime(2025, 6, 30, 23, tzinfo=UTC), datetime(2025, 1, 31, 23, tzinfo=UTC),
                   datetime(2025, 4, 30, 23, tzinfo=UTC))
    _insert(con, "patients", [_patient("A1")], 1, ea)
    _insert(con, "sessions", [_session("A1", d, n) for n, d in enumerate(days_a)], 1, ea)
    _insert(con, "assessments", [base("reg-a", "A1")], 1, ea)
    _ledger(con, 1, "reg-a", ea)
    _insert(con, "patients", [_patient("B1", registry="reg-b")], 2, eb)
    _insert(con, "sessions", [_session("B1", d, n, registry="reg-b") for n, d in enumerate(days_b)], 2, eb)
    _insert(con, "assessments", [base("reg-b", "B1")], 2, eb)
    _ledger(con, 2, "reg-b", eb)
    _ledger(con, 3, "reg-b", eb2)  # an incremental export with no changes: data to 30 April
    refresh_core(con)
    con.close()

    def followed(con, registry):
        got = con.execute("SELECT week, patients_followed FROM marts.response_rates WHERE registry_id = ? "
                          "AND drug = 'all' AND instrument = 'PHQ9'", [registry]).fetchall()
        con.close()
        return {w: n for w, n in got if n}

    from reports.report import month_bounds

    june = month_bounds("2025-06")
    con, _ = build_in_memory(path, as_of_load=2, cutoff=june, report_month="2025-06")
    assert followed(con, "reg-b") == {1: 1, 2: 1}  # data end 1 February: day 26 of B1's follow-up
    con, _ = build_in_memory(path, as_of_load=2, cutoff=june, report_month="2025-06")
    assert followed(con, "all") == {1: 2, 2: 2, 4: 1, 8: 1, 12: 1}  # A1 (data to 1 July) to week 12
    con, _ = build_in_memory(path, as_of_load=2)
    assert followed(con, "reg-b") == {1: 1, 2: 1}  # a rebuild: the same data end
    con, _ = build_in_memory(path, cutoff=june, report_month="2025-06")
    assert followed(con, "reg-b") == {1: 1, 2: 1, 4: 1, 8: 1, 12: 1}  # load 3: data to 1 May, day 115
    con, _ = build_in_memory(path, cutoff=month_bounds("2025-03"), report_month="2025-03")
    assert followed(con, "reg-b") == {1: 1, 2: 1, 4: 1, 8: 1}  # the cut-off (1 April) first: day 85


def test_a_registry_s_data_end_is_its_export_s_date_in_its_own_zone(tmp_path):
    """reg-b exports at 2025-02-01 01:00 UTC, 31 January 20:00 in New York, its zone: its data end is
    1 February (its sessions' dates are New York's too), not 2 February. B1's first session is on
    15 January: day 17, the end of week 2's window, is not over by 1 February."""
    from tests.reports.cohort import _insert, _ledger, refresh_core
    from warehouse.migrate import migrate

    e = datetime(2025, 2, 1, 1, tzinfo=UTC)
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    _insert(con, "patients", [_patient("B1", registry="reg-b")], 1, e)
    _insert(con, "sessions", [_session("B1", d, n, registry="reg-b")
                              for n, d in enumerate([date(2025, 1, 15), date(2025, 1, 22)])], 1, e)
    _insert(con, "assessments", [{"registry_id": "reg-b", "assessment_id": "B1-b", "patient_key": "B1",
                                  "session_id": None, "assessed_at": datetime(2025, 1, 14, 20, tzinfo=UTC),
                                  "instrument": "PHQ9", "total_score": 20, "minutes_after_dose": None}], 1, e)
    _ledger(con, 1, "reg-b", e)
    con.execute("UPDATE ops.loads SET timezone = 'America/New_York'")
    refresh_core(con)
    con.close()
    con, _ = build_in_memory(path)
    got = con.execute("SELECT week, patients_followed FROM marts.response_rates WHERE registry_id = 'reg-b' "
                      "AND drug = 'all' AND instrument = 'PHQ9'").fetchall()
    con.close()
    assert {w: n for w, n in got if n} == {1: 1}


def test_ham_d17_is_reported_with_its_remission_threshold(tmp_path):
    """HAM-D17 loaded but no mart read it, so its verified remission threshold (<= 7, STAR*D;
    clinical-reference 1.3) was never applied. 20 esketamine patients: baseline 24, week 4 at 7
    (remitted), 8 (responded, not remitted) or 13 (neither), in turns."""
    from reports.report import generate_report
    from tests.reports.cohort import cohort_frames

    f = cohort_frames("reg-a", 20, 0)
    scores = [7, 8, 13]
    n = 0
    for s in f["sessions"]:
        if s["session_id"].endswith("-s0"):
            week4 = scores[n % 3]
            n += 1
            _add_scores(f, s, "HAMD17", ((-1, 24), (28, week4)))
    path = _warehouse(tmp_path / "w.duckdb", f, exported_at=datetime(2025, 5, 1, 23, tzinfo=UTC))
    con = _report(path, "2025-03")
    got = con.execute("SELECT patients_evaluable, responders, remitters, remission_definition FROM marts.response_rates "
                      "WHERE registry_id = 'reg-a' AND drug = 'all' AND instrument = 'HAMD17' AND week = 4").fetchall()
    con.close()
    assert got == [(20, 14, 7, "HAM-D17 <= 7")]  # 7 at 7, 7 at 8 (<= 12 = half of 24), 6 at 13
    out = generate_report("2025-03", tmp_path / "r", warehouse_path=path, pdf=False)
    assert "HAM-D17: response and remission by group and week" in open(out["html"]).read()
