"""A group's denominators are one number however often the report shows them (docs/report.md,
'a number shown twice is one cell'): within one report every shown value of one quantity is the
same and 'all groups' minus the shown groups never gives a hidden group's 1..10; across two
consecutive reports no two shown values of one quantity differ by 1..10, whichever row, term or
section showed them.

Quantities are read from figures.csv by meaning (what a reader can match), not by suppression cell:
a treatment group's patients exposed and sessions in a period are shown as the exposure table's
rows (in this cohort no patient changes route, so they are the same numbers), as every AE and
long-term row of the group, whatever its term and level, and as the `n` of its rates (per 100
sessions: sessions; patients with event: patients exposed) and of its route comparisons; a flag
table's sessions and patients evaluable are one quantity for the measures evaluated on the same
sessions (the post-dose BP measures), shown as their value and as the `n` of the flagged counts and
rates. Nested quantities (a group's sessions, those with a pre-dose BP, those with a post-dose BP)
must not differ by 1..10 either.
"""
from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from reports.suppression import is_small
from tests.reports.cohort import cohort_frames, frames_warehouse

# -- a cohort with two small ketamine groups -----------------------------------------------------

IM, ORAL, LATE = range(60, 76), range(76, 84), range(72, 76)  # ketamine IV patients made IM or oral


def build_small_groups(path):
    """reg-a of tests/reports/cohort.py with 84 ketamine patients: 0-59 IV, 60-75 IM (72-75 start five
    weeks later: 12 IM patients in January, 16 from February), 76-83 oral (8: hidden everywhere).
    Headache: IV 0-29 and oral 76-78 at their first session (January). Vertigo: IV 0-29 at their first
    session, oral 76-78 at day 28 (February). A term whose oral row has events makes complementary
    suppression hide that term's IV row (events > 10) rather than its IM row (patients 12): before
    the fix, January showed IM's 12 patients under Headache's key, and February 16 under Vertigo's.
    Blood pressure: esketamine's (25 rises of SBP >= 40), and on every IM and oral session, with a
    rise at the first session of oral 76-78: the same for the post-dose BP measures, whose sessions
    and patients evaluable are one number per group. Three sessions of IM patient 60 have a pre-dose
    BP only: IM's sessions minus its sessions with a post-dose BP is 3."""
    t = cohort_frames("reg-a", 100, 84)
    idx = lambda key: int(key.rsplit("-", 1)[1][:3]) if "-iv-" in key else None
    shift = timedelta(days=35)
    for table, rows in t.items():
        for r in rows:
            i = idx(r.get("patient_key") or "")  # vitals (no patient key) are esketamine's only
            if i is None:
                continue
            if table == "sessions" and i in IM:
                r.update(route="im", dose_mg=40.0, infusion_minutes=None)
            if table == "sessions" and i in ORAL:
                r.update(route="oral", dose_mg=150.0, dose_mg_per_kg=2.0, infusion_minutes=None)
            if i in LATE:
                for col in ("session_start", "assessed_at", "onset_date", "collected_on", "enrolled_on"):
                    if r.get(col) is not None:
                        r[col] = r[col] + shift
    first = {r["patient_key"]: min(s["session_start"] for s in t["sessions"] if s["patient_key"] == r["patient_key"])
             for r in t["patients"] if "-iv-" in r["patient_key"]}

    def ae(i, n, pt, day):
        pk = f"reg-a-iv-{i:03d}"
        onset = (first[pk] + timedelta(days=day)).date()
        t["adverse_events"].append({"registry_id": "reg-a", "ae_id": f"{pk}-x{n}", "patient_key": pk, "session_id": None,
                                    "onset_date": onset, "term": pt.lower(), "meddra_pt": pt, "severity": "mild",
                                    "serious": False, "hospitalization": False, "death": False, "life_threatening": False,
                                    "disability": False, "congenital_anomaly": False, "medically_important": False,
                                    "related": "possible", "outcome": "recovered", "resolved_date": None,
                                    "meddra_code": None})

    for s in [s for s in t["sessions"] if s["route"] in ("im", "oral")]:  # blood pressure as esketamine's
        rise = s["session_id"].endswith("-s0") and int(s["patient_key"][-3:]) in (76, 77, 78)
        no_post = s["session_id"] in [f"reg-a-iv-060-s{j}" for j in (1, 2, 3)]  # 3 IM sessions without a post-dose BP
        for tp, m, sbp, dbp in (("pre", 0, 120, 80), ("post40", 40, 165 if rise else 125, 85 if rise else 82))[:1 if no_post else 2]:
            t["vitals"].append({"registry_id": "reg-a", "session_id": s["session_id"], "timepoint": tp,
                                "minutes_after_dose": m, "sbp": sbp, "dbp": dbp, "heart_rate": 70, "spo2": 98})
    for i in list(range(30)) + [76, 77, 78]:
        ae(i, 1, "Headache", 0)
        ae(i, 2, "Vertigo", 0 if i < 30 else 28)
    return frames_warehouse(path, t, datetime(2025, 5, 1, 23, tzinfo=timezone.utc))


@pytest.fixture(scope="module")
def small_groups(tmp_path_factory):
    """January then February, recorded in this order (the ledger on), and February as a draft made
    first (nothing published yet)."""
    from reports.report import generate_report

    tmp = tmp_path_factory.mktemp("denominators")
    wh = build_small_groups(tmp / "w.duckdb")
    out = {"wh": wh}
    for name, month, draft in (("feb_draft", "2025-02", True), ("jan", "2025-01", False), ("feb", "2025-02", False)):
        out[name] = generate_report(month, tmp / name, warehouse_path=wh, pdf=False, draft=draft)
    return out


# -- quantities by meaning ------------------------------------------------------------------------

def _stratum(s: str) -> dict:
    return dict(kv.split("=", 1) for kv in s.split("; ") if "=" in kv)


FLAG = re.compile(r"(?P<domain>[a-z_]+?)_(?P<what>(sessions|assessments)_(evaluable|flagged|rate)|patients_flagged|patient_rate)")
# measures evaluated on the same units (marts.session_safety's evaluable_on)
EVALUATED_ON = {**{m: "post-dose BP" for m in ("SBP >= 180 after dose", "DBP >= 110 after dose")},
                **{m: "pre- and post-dose BP" for m in ("SBP rise >= 40", "DBP rise >= 25", "Any notable BP rise")},
                **{m: "MOAA/S" for m in ("MOAA/S <= 3 after dose (moderate or greater)", "MOAA/S = 0 (loss of consciousness)",
                                         "MOAA/S below pre-dose after dose (any decrease; 5 if none recorded)")}}


def quantities(path) -> tuple[dict, dict]:
    """figures.csv -> ({quantity: {shown values}}, {(family, period): {every group listed, shown or not}}).
    A quantity is (family, group, period): family 'patients' (patients exposed) or 'sessions', or a flag
    table's ('flag-units' | 'flag-patients', domain, evaluated on)."""
    shown, groups = defaultdict(set), defaultdict(set)
    with open(path) as fh:
        for r in csv.DictReader(fh):
            sec, m, st = r["section"], r["measure"], _stratum(r["stratum"])
            places = []  # (family, group, period, column)
            if sec in ("exposure", "summary") and m in ("patients", "sessions") and set(st) <= {"group", "period"}:
                places.append((m, st.get("group", "all groups"), st["period"], "value"))
            if sec == "summary" and m == "ae_per_100_sessions":
                places.append(("sessions", "all groups", st["period"], "n"))
            if sec in ("safety", "long_term") and "term" in st and "group" in st:
                fam = {"patients_exposed": [("patients", "value")], "sessions": [("sessions", "value")],
                       "patients_with_event": [("patients", "n")], "events": [("sessions", "n")],
                       "per_100_sessions": [("sessions", "n")]}.get(m, [])
                places += [(f, st["group"], st["period"], col) for f, col in fam]
            if sec == "comparisons" and st.get("comparison") == "route" and st["measure"].endswith(": patients with event"):
                places += [("patients", st["group"], "cumulative", "n")]
            f = FLAG.fullmatch(m) if sec == "safety" and "measure" in st else None
            if f:  # flag tables: units and patients evaluable, by what the measure is evaluated on
                basis = (f["domain"], EVALUATED_ON.get(st["measure"], st["measure"]))
                col = "value" if f["what"].endswith("_evaluable") else "n"
                fam = ("flag-patients" if f["what"].startswith("patient") else "flag-units", *basis)
                places.append((fam, st["group"], st["period"], col))
            for fam, grp, period, col in places:
                groups[(fam, period)].add(grp)
                if r["suppressed"] == "false" and r[col] != "":
                    shown[(fam, grp, period)].add(int(float(r[col])))
    return shown, groups


# (outer, inner): the inner quantity counts some of what the outer one counts, so outer - inner is a count
BP = ("pre-dose BP", "post-dose BP", "pre- and post-dose BP")
NESTS = ([("sessions", ("flag-units", "blood_pressure", b)) for b in BP]
         + [(("flag-units", "blood_pressure", b), ("flag-units", "blood_pressure", "pre- and post-dose BP")) for b in BP[:2]]
         + [("patients", ("flag-patients", "blood_pressure", b)) for b in BP[1:]])


def within_report_leaks(path) -> list:
    """One value per quantity, no hidden group's count from 'all groups' minus the shown groups, and no
    small difference of nested quantities of one group (sessions without a post-dose BP)."""
    shown, groups = quantities(path)
    out = [("two values", k, sorted(v)) for k, v in shown.items() if len(v) > 1]
    for fam, grp, period in list(shown):
        for outer, inner in NESTS:
            if fam == outer and (inner, grp, period) in shown:
                d = min(shown[(outer, grp, period)]) - min(shown[(inner, grp, period)])
                if is_small(d):
                    out.append(("nested", outer, inner, grp, period, d))
    for (fam, period), grps in groups.items():
        total = shown.get((fam, "all groups", period))
        parts = grps - {"all groups"}
        hidden = [g for g in parts if (fam, g, period) not in shown]
        if total and hidden:
            rest = min(total) - sum(min(shown[(fam, g, period)]) for g in parts - set(hidden))
            if is_small(rest):
                out.append(("all minus shown parts", fam, period, hidden, rest))
    return out


def across_report_leaks(a, b) -> list:
    """Shown values of one quantity in two reports that differ by 1..10 (section, term, level ignored)."""
    qa, qb = quantities(a)[0], quantities(b)[0]
    return [(k, va, vb) for k in qa.keys() & qb.keys() for va in qa[k] for vb in qb[k] if 1 <= abs(va - vb) <= 10]


# -- tests ------------------------------------------------------------------------------------------

def test_a_group_s_denominators_are_one_number_and_all_minus_the_shown_groups_hides_nothing(small_groups):
    """Before: February's AE rows showed IV, esketamine and IM patients each under some term, and
    'all groups' minus them was oral's 8."""
    shown, groups = quantities(small_groups["feb_draft"]["data"])  # the cohort is what it should be
    assert {"ketamine oral", "ketamine im", "ketamine iv"} <= groups[("patients", "cumulative")]
    assert ("patients", "ketamine oral", "cumulative") not in shown
    assert ("patients", "all groups", "cumulative") in shown
    for name in ("feb_draft", "jan", "feb"):
        assert within_report_leaks(small_groups[name]["data"]) == [], name


def test_two_consecutive_reports_show_no_quantity_twice_with_a_small_difference(small_groups):
    """January's IM patients (12) and February's (16) are never both shown, under any term."""
    assert across_report_leaks(small_groups["jan"]["data"], small_groups["feb"]["data"]) == []


def test_the_ledger_records_a_group_s_denominators_once_under_its_own_key(small_groups):
    """Under the group's denominator cell, not under each term's or measure's."""
    con = duckdb.connect(str(small_groups["wh"]), read_only=True)
    try:
        cells = [c for (c,) in con.execute("SELECT DISTINCT cell FROM ops.published_counts WHERE count_name = 'patients'").fetchall()]
    finally:
        con.close()
    assert any(c.startswith('["ae-exposed",') for c in cells)
    assert not [c for c in cells if re.match(r'\["(safety|long_term|flag)",', c)]  # no term or measure cell holds them
    assert any(c.startswith('["flag-evaluable","blood_pressure","post-dose BP",') for c in cells)
