"""The cohort behaves like docs/clinical-reference.md, and planted rates come back out."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from synth import CohortParams, generate_registry
from synth.params import ROUTES
from synth_checks import manifests


def _load(out, export=-1) -> dict[str, pd.DataFrame]:
    m = manifests(out)[export]
    return {f["table"]: pd.read_csv(m["_folder"] / f["path"], dtype=str, keep_default_na=False) for f in m["files"]}


@pytest.fixture(scope="module")
def t(clean_registry):
    return _load(clean_registry)


def _num(s):
    return pd.to_numeric(s, errors="coerce")


def test_esketamine_sessions(t):
    s = t["sessions"]
    esk = s[s.drug == "esketamine"]
    assert len(esk) > 100
    assert set(esk.route) == {"intranasal"}
    assert set(_num(esk.dose_mg)) <= {28, 56, 84}
    assert (_num(esk.devices) == _num(esk.dose_mg) / 28).all()
    assert set(esk.setting) <= {"clinic", "inpatient"}
    assert (_num(esk.monitoring_minutes) >= 120).mean() > 0.95
    assert (esk.dose_mg_per_kg == "").all()


def test_iv_ketamine_sessions(t):
    s = t["sessions"]
    iv = s[(s.drug == "ketamine") & (s.route == "iv")]
    assert len(iv) > 100
    assert (_num(iv.dose_mg_per_kg) == 0.5).mean() > 0.6
    assert (_num(iv.dose_mg_per_kg) <= 1.0).all()
    assert ((_num(iv.dose_mg) - _num(iv.dose_mg_per_kg) * _num(iv.weight_kg)).abs() <= 0.051).all()
    assert (_num(iv.infusion_minutes) == 40).mean() > 0.8
    assert {"im", "oral"} <= set(s.route)


def test_induction_twice_weekly(t):
    s = t["sessions"].assign(start=lambda d: pd.to_datetime(d.session_start))
    s = s.sort_values(["patient_id", "start"])
    s["n"] = s.groupby("patient_id").cumcount()
    gaps = s.start.dt.normalize().groupby(s.patient_id).diff().dt.days     # calendar days
    induction = gaps[(s.n >= 1) & (s.n <= 5)].dropna()
    assert len(induction) > 200
    assert induction.isin([3, 4]).mean() > 0.8
    later = gaps[s.n >= 12].dropna()
    assert later.isin([7, 14]).mean() > 0.8


def test_vitals_pattern(t):
    v = t["vitals"]
    for c in ("sbp", "dbp", "spo2", "minutes_after_dose"):
        v[c] = _num(v[c])
    w = v.pivot_table(index="session_id", columns="timepoint", values=["sbp", "dbp"])
    rise_s = (w["sbp"]["post40"] - w["sbp"]["pre"]).dropna()
    rise_d = (w["dbp"]["post40"] - w["dbp"]["pre"]).dropna()
    assert rise_s.mean() > 3 and rise_d.mean() > 2
    assert ((rise_s >= 40) | (rise_d >= 25)).any()
    assert (w["sbp"]["discharge"] - w["sbp"]["pre"]).mean() < rise_s.mean()
    assert (v[v.timepoint == "post40"].minutes_after_dose == 40).all()
    assert v.spo2.between(95, 100).mean() > 0.95
    assert (v.spo2 < 92).mean() < 0.01


def test_peri_dose_scales(t):
    a = t["assessments"]
    a["score"] = _num(a.total_score)
    cadss = a[a.instrument == "CADSS"].assign(m=lambda d: _num(d.minutes_after_dose))
    assert (cadss.session_id != "").all()
    by = cadss.groupby("m").score.mean()
    assert by[40] > 3 * by[0] and by[40] > 3 * cadss[cadss.m >= 90].score.mean()
    moaas = a[a.instrument == "MOAAS"].score
    assert (moaas == 5).mean() > 0.85 and moaas.between(3, 4).any()


def test_scores_and_items(t):
    a = t["assessments"]
    assert {"PHQ9", "MADRS", "GAD7", "QIDS_SR16", "CSSRS_IDEATION", "CADSS", "MOAAS"} <= set(a.instrument)
    phq = a[a.instrument == "PHQ9"]
    items = phq.item_scores.str.split(";", expand=True).astype(int)
    assert items.shape[1] == 9 and items.max().max() <= 3
    assert (items.sum(axis=1) == _num(phq.total_score)).all()
    assert 0.01 < (items[8] >= 1).mean() < 0.3              # item 9 endorsed now and then
    q = a[a.instrument == "QIDS_SR16"].item_scores.str.split(";", expand=True).astype(int)
    assert q.shape[1] == 16


def test_baseline_before_first_session(t):
    a, s = t["assessments"], t["sessions"]
    first = s.groupby("patient_id").session_start.min()
    base = a[a.instrument == "MADRS"].sort_values("assessed_at").groupby("patient_id").first()
    both = base.join(first, how="inner")
    assert len(both) > 100
    gap = (pd.to_datetime(both.session_start) - pd.to_datetime(both.assessed_at)).dt.total_seconds() / 86400
    assert (gap >= 0).all() and (gap <= 14).all()
    assert _num(both.total_score).between(28, 44).all()
    assert _num(both.total_score).between(28, 40).mean() > 0.9


def _response_rate(tables) -> tuple[float, float]:
    """(share ever reaching >= 50 % PHQ-9/MADRS reduction, share doing so by day 7)."""
    a = tables["assessments"]
    a = a[a.instrument.isin(["PHQ9", "MADRS"])].assign(score=lambda d: _num(d.total_score),
                                                       when=lambda d: pd.to_datetime(d.assessed_at))
    first = pd.to_datetime(tables["sessions"].groupby("patient_id").session_start.min())
    a = a[a.patient_id.isin(first.index)].sort_values("when")
    base = a.groupby(["patient_id", "instrument"]).score.transform("first")
    a = a.assign(resp=a.score <= base / 2, day=(a.when - a.patient_id.map(first)).dt.total_seconds() / 86400)
    per = a[a.day > 0.5].groupby("patient_id")
    return per.resp.any().mean(), a[(a.day > 0.5) & (a.day <= 8)].groupby("patient_id").resp.any().reindex(
        per.size().index, fill_value=False).mean()


def test_response_rate_sensible(t):
    ever, early = _response_rate(t)
    assert 0.35 < ever < 0.75
    assert 0.1 < early < ever


def _planted(tmp_path, patients=500, months=3, **kw) -> dict[str, pd.DataFrame]:
    generate_registry(tmp_path, "planted", patients, seed=21, start=date(2025, 1, 1), months=months,
                      params=CohortParams(**kw))
    return _load(tmp_path)


def test_planted_response(tmp_path):
    always = _planted(tmp_path / "a", response_prob={r: 1.0 for r in ROUTES}, early_response_share=1.0)
    never = _planted(tmp_path / "b", response_prob={r: 0.0 for r in ROUTES})
    ever_a, early_a = _response_rate(always)
    ever_n, _ = _response_rate(never)
    assert ever_a > 0.9 and early_a > 0.8
    assert ever_n < 0.15


def test_planted_adverse_event_rate(tmp_path):
    t = _planted(tmp_path, ae_incidence={"Nausea": 0.4}, ae_route_factor={r: 1.0 for r in ROUTES},
                 ae_recurrence_per_session=0.0, sae_rate=0.0, hepatic_signal_prob=0.0)
    ae, treated = t["adverse_events"], t["sessions"].patient_id.nunique()
    assert set(ae.meddra_pt) == {"Nausea"} and set(ae.meddra_code) == {"10028813"}
    assert len(ae) == ae.patient_id.nunique()
    assert abs(ae.patient_id.nunique() / treated - 0.4) < 0.07
    assert (ae.session_id != "").all() and (ae.serious == "0").all()


def test_serious_events_and_long_term_signals(tmp_path):
    t = _planted(tmp_path, 300, 6, sae_rate=0.5, hepatic_signal_prob=1.0, labs_share=1.0,
                 ae_incidence={"Pollakiuria": 0.3, "Dysuria": 0.2, "Cystitis": 0.1, "Drug abuse": 0.1})
    ae, labs = t["adverse_events"], t["labs"]
    sae = ae[ae.serious == "1"]
    crit = ["death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"]
    assert len(sae) > 100 and (sae[crit] == "1").any(axis=1).all()
    assert ((ae.serious == "0") == (ae[crit] == "0").all(axis=1)).all()
    assert {"Suicide attempt", "Pollakiuria", "Dysuria", "Cystitis", "Drug abuse",
            "Alanine aminotransferase increased"} <= set(ae.meddra_pt)
    assert set(zip(labs.test, labs.uln)) <= {("ALT", "40"), ("AST", "35"), ("GGT", "60")}
    assert set(labs.unit) == {"U/L"}
    alt = labs[labs.test == "ALT"]
    assert (_num(alt.value) >= 120).any()
    resolved = ae[ae.resolved_date != ""]
    assert (resolved.resolved_date >= resolved.onset_date).all()


def test_default_cohort_has_long_term_signals(t):
    ae = t["adverse_events"]
    assert {"Pollakiuria", "Dissociation", "Nausea", "Blood pressure increased"} <= set(ae.meddra_pt)
    assert (ae.serious == "1").any()
