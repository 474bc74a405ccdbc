"""Known-answer tests: the marts recover the counts planted by tests/reports/cohort.py."""
import shutil

import duckdb
import pytest

from reports.marts import rebuild_marts


@pytest.fixture(scope="module")
def marts(warehouse, tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "w.duckdb"
    shutil.copy(warehouse, p)
    info = rebuild_marts(p)
    con = duckdb.connect(str(p), read_only=True)
    yield con, info, p
    con.close()


def one(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()


def test_build_info(marts):
    con, info, _ = marts
    assert info["last_load_id"] == 3 and "response_rates" in info["tables"]
    assert one(con, "SELECT last_load_id FROM marts.build_info")[0] == 3


@pytest.mark.parametrize("drug,route,n,resp,rem", [("esketamine", "intranasal", 100, 60, 30), ("ketamine", "iv", 80, 40, 0)])
def test_response_week4_exact(marts, drug, route, n, resp, rem):
    con = marts[0]
    r = one(con, "SELECT patients_evaluable, responders, remitters, response_rate, response_ci_low, response_ci_high "
                 "FROM marts.response_rates WHERE registry_id = 'reg-a' AND drug = ? AND route = ? AND instrument = 'PHQ9' "
                 "AND week = 4", drug, route)
    assert r[:3] == (n, resp, rem)
    assert r[4] < resp / n < r[5] and r[3] == pytest.approx(resp / n)


def test_no_response_before_planted(marts):
    r = one(marts[0], "SELECT sum(responders) FROM marts.response_rates WHERE registry_id = 'reg-a' AND week IN (1, 2)")
    assert r[0] == 0


def test_ae_rates_dissociation(marts):
    r = one(marts[0], "SELECT patients_exposed, sessions, patients_with_event, events, per_100_sessions, "
                      "per_100_sessions_ci_low, per_100_sessions_ci_high FROM marts.ae_rates WHERE registry_id = 'reg-a' "
                      "AND drug = 'esketamine' AND level = 'label_group' AND term = 'Dissociation' AND period = 'cumulative'")
    assert r[:4] == (100, 1700, 30, 40)
    assert r[4] == pytest.approx(40 / 1700 * 100) and r[5] < r[4] < r[6]


def test_withdrawal_and_as_of(marts, tmp_path):
    con, _, p = marts
    assert one(con, "SELECT events FROM marts.ae_rates WHERE registry_id = 'reg-a' AND drug = 'ketamine' AND term = 'Nausea' "
                    "AND period = 'cumulative'")[0] == 19
    q = tmp_path / "asof.duckdb"
    shutil.copy(p, q)
    rebuild_marts(q, as_of_load=1)
    c2 = duckdb.connect(str(q), read_only=True)
    assert one(c2, "SELECT events FROM marts.ae_rates WHERE registry_id = 'reg-a' AND drug = 'ketamine' AND term = 'Nausea' "
                   "AND period = 'cumulative'")[0] == 20
    assert one(c2, "SELECT count(*) FROM marts.exposure WHERE registry_id = 'reg-b'")[0] == 0  # reg-b came in load 2
    c2.close()


@pytest.mark.parametrize("domain,measure,flagged", [
    ("blood_pressure", "Any notable BP rise", 25), ("blood_pressure", "SBP rise >= 40", 25),
    ("dissociation", "CADSS > 4 after dose", 50), ("rems", "Esketamine monitoring < 120 min", 15)])
def test_session_safety(marts, domain, measure, flagged):
    r = one(marts[0], "SELECT units_flagged, unit_ci_low, unit_ci_high, units_evaluable FROM marts.session_safety "
                      "WHERE registry_id = 'reg-a' AND drug = 'esketamine' AND domain = ? AND measure = ? AND period = 'cumulative'",
            domain, measure)
    assert r[0] == flagged and r[1] < flagged / r[3] < r[2]


def test_long_term_and_sae(marts):
    con = marts[0]
    assert one(con, "SELECT patients_with_event FROM marts.long_term WHERE registry_id = 'reg-a' AND drug = 'ketamine' "
                    "AND term = 'ALT/AST >= 3x ULN (labs)' AND period = 'cumulative'")[0] == 12
    assert one(con, "SELECT count(*) FROM marts.sae_listing WHERE meddra_pt = 'Suicide attempt'")[0] == 12
    cols = [r[0] for r in con.execute("SELECT column_name FROM duckdb_columns() WHERE schema_name = 'marts'").fetchall()]
    assert not {"patient_key", "ae_id", "birth_year", "session_id"} & set(cols)


def test_km_response(marts):
    r = one(marts[0], "SELECT n, events, cum_incidence_d28, cum_incidence_d182 FROM marts.km_summary WHERE registry_id = 'reg-a' "
                      "AND drug = 'esketamine' AND instrument = 'PHQ9' AND outcome = 'response'")
    assert r[0] == 100 and r[1] == 60 and r[2] == pytest.approx(0.6)
    # nobody is followed past day 84 (the last PHQ-9): no estimate by day 182, not a flat 60 %
    assert r[3] is None


def test_eair_time_at_risk_stops_at_first_onset(marts):
    """Known answer (clinical-reference 7.1): 30 EI patients have their first Dissociation on the day
    of their first session (window 3 days to the next session); each keeps 1 day at risk (the onset
    day), the other 70 their whole 91 days. Before the fix the onset session's window stayed whole
    (3 days each)."""
    r = one(marts[0], "SELECT new_patients_with_event, patient_years, py_at_risk, eair_per_100py FROM marts.ae_rates "
                      "WHERE registry_id = 'reg-a' AND drug = 'esketamine' AND level = 'label_group' "
                      "AND term = 'Dissociation' AND period = 'cumulative'")
    assert r[0] == 30 and r[1] == pytest.approx(100 * 91 / 365.25)
    assert r[2] == pytest.approx((70 * 91 + 30 * 1) / 365.25)
    assert r[3] == pytest.approx(30 / ((70 * 91 + 30) / 365.25) * 100)
