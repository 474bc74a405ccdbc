"""One test per validation rule: a clean export breaks no error rule; each case breaks its rule on
the line it edits. Runs the real read -> stage -> Great Expectations path, without Prefect."""
from __future__ import annotations

import json

import pytest

from expectations.catalogue import BUILDERS, SUITE_DIR
from pipeline import base_tables, run_validation, violations

# rule -> (table, row index to edit or "append:<index>", {column: new value}, lines expected)
# Lines: the header is line 1, so row i of a table is line i + 2.
CASES = {
    # patients
    "patients.patient_id.required": ("patients", 0, {"patient_id": ""}, [2]),
    "patients.patient_id.unique": ("patients", "append:0", {}, [2, 4]),
    "patients.birth_date.type": ("patients", 0, {"birth_date": "1970/04/02"}, [2]),
    "patients.birth_year.type": ("patients", 0, {"birth_date": "", "birth_year": "19x0"}, [2]),
    "patients.birth_year.range": ("patients", 0, {"birth_date": "", "birth_year": "1850"}, [2]),
    "patients.birth_year.not_future": ("patients", 0, {"birth_date": "", "birth_year": "2030"}, [2]),
    "patients.sex.code": ("patients", 0, {"sex": "female"}, [2]),
    "patients.zip.format": ("patients", 0, {"zip": "ABCDE"}, [2]),
    "patients.enrolled_on.required": ("patients", 0, {"enrolled_on": ""}, [2]),
    "patients.enrolled_on.type": ("patients", 0, {"enrolled_on": "05/01/2025"}, [2]),
    "patients.enrolled_on.not_future": ("patients", 0, {"enrolled_on": "2025-03-01"}, [2]),
    "patients.enrolled_on.after_birth": ("patients", 0, {"birth_date": "", "birth_year": "2026"}, [2]),
    "patients.trd_failed_trials.type": ("patients", 0, {"trd_failed_trials": "two"}, [2]),
    "patients.trd_failed_trials.range": ("patients", 0, {"trd_failed_trials": "31"}, [2]),
    "patients.site_id.identifier": ("patients", 0, {"site_id": "Dr Jones (555) 013-7789"}, [2]),
    "patients.diagnosis_icd10.format": ("patients", 0, {"diagnosis_icd10": "depression"}, [2]),
    "patients.diagnosis_icd10.mdd": ("patients", 0, {"diagnosis_icd10": "F41.1"}, [2]),
    # sessions: row 0 = S1 esketamine 56 mg, row 1 = S2 IV ketamine 0.5 mg/kg x 80 kg
    "sessions.session_id.required": ("sessions", 0, {"session_id": ""}, [2]),
    "sessions.session_id.unique": ("sessions", "append:1", {}, [3, 4]),
    "sessions.patient_id.required": ("sessions", 1, {"patient_id": ""}, [3]),
    "sessions.patient_id.exists": ("sessions", 1, {"patient_id": "MRN-9999"}, [3]),
    "sessions.session_start.required": ("sessions", 1, {"session_start": ""}, [3]),
    "sessions.session_start.type": ("sessions", 1, {"session_start": "10/01/2025 09:00"}, [3]),
    "sessions.session_start.not_future": ("sessions", 1, {"session_start": "2025-02-15T10:00:00Z"}, [3]),
    "sessions.session_start.after_enrolment": ("sessions", 1, {"session_start": "2024-11-01T10:00:00Z"}, [3]),
    "sessions.drug.required": ("sessions", 1, {"drug": ""}, [3]),
    "sessions.drug.code": ("sessions", 1, {"drug": "ketamin"}, [3]),
    "sessions.route.required": ("sessions", 1, {"route": ""}, [3]),
    "sessions.route.code": ("sessions", 1, {"route": "nasal"}, [3]),
    "sessions.route.esketamine_intranasal": ("sessions", 0, {"route": "iv"}, [2]),
    "sessions.dose_mg.type": ("sessions", 1, {"dose_mg": "forty"}, [3]),
    "sessions.dose_mg.positive": ("sessions", 1, {"dose_mg": "0"}, [3]),
    "sessions.dose_mg.esketamine_strength": ("sessions", 0, {"dose_mg": "50"}, [2]),
    "sessions.dose_mg_per_kg.type": ("sessions", 1, {"dose_mg_per_kg": "0,5"}, [3]),
    "sessions.dose_mg_per_kg.iv_max": ("sessions", 1, {"dose_mg_per_kg": "5"}, [3]),
    "sessions.dose_mg_per_kg.iv_typical": ("sessions", 1, {"dose_mg_per_kg": "1.5", "dose_mg": "120"}, [3]),
    "sessions.dose_mg_per_kg.oral_typical": ("sessions", 1, {"route": "oral", "dose_mg_per_kg": "8", "dose_mg": "640"}, [3]),
    "sessions.weight_kg.type": ("sessions", 1, {"weight_kg": "eighty"}, [3]),
    "sessions.weight_kg.range": ("sessions", 1, {"weight_kg": "25"}, [3]),
    "sessions.weight_kg.required_for_mg_per_kg": ("sessions", 1, {"weight_kg": ""}, [3]),
    "sessions.dose_mg.matches_mg_per_kg": ("sessions", 1, {"dose_mg": "60"}, [3]),
    "sessions.infusion_minutes.type": ("sessions", 1, {"infusion_minutes": "40.5"}, [3]),
    "sessions.infusion_minutes.iv_typical": ("sessions", 1, {"infusion_minutes": "120"}, [3]),
    "sessions.devices.type": ("sessions", 0, {"devices": "two"}, [2]),
    "sessions.devices.esketamine_devices": ("sessions", 0, {"devices": "3"}, [2]),
    "sessions.devices.esketamine_range": ("sessions", 0, {"dose_mg": "", "devices": "5"}, [2]),
    "sessions.setting.code": ("sessions", 0, {"setting": "office"}, [2]),
    "sessions.setting.esketamine_home": ("sessions", 0, {"setting": "home"}, [2]),
    "sessions.monitoring_minutes.type": ("sessions", 0, {"monitoring_minutes": "2h"}, [2]),
    "sessions.monitoring_minutes.range": ("sessions", 0, {"monitoring_minutes": "-5"}, [2]),
    "sessions.monitoring_minutes.rems_minimum": ("sessions", 0, {"monitoring_minutes": "90"}, [2]),
    # vitals: row 0 = S1 pre 122/78, row 1 = S1 post40 138/86, row 2 = S2 pre
    "vitals.session_id.required": ("vitals", 2, {"session_id": ""}, [4]),
    "vitals.session_id.exists": ("vitals", 2, {"session_id": "S9"}, [4]),
    "vitals.timepoint.required": ("vitals", 2, {"timepoint": ""}, [4]),
    "vitals.timepoint.code": ("vitals", 2, {"timepoint": "before"}, [4]),
    "vitals.timepoint.unique": ("vitals", "append:2", {}, [4, 5]),
    "vitals.minutes_after_dose.type": ("vitals", 1, {"minutes_after_dose": "forty"}, [3]),
    "vitals.minutes_after_dose.range": ("vitals", 1, {"minutes_after_dose": "2000"}, [3]),
    "vitals.sbp.type": ("vitals", 1, {"sbp": "138/86"}, [3]),
    "vitals.sbp.range": ("vitals", 1, {"sbp": "310"}, [3]),
    "vitals.dbp.type": ("vitals", 1, {"dbp": "x"}, [3]),
    "vitals.dbp.range": ("vitals", 1, {"dbp": "15"}, [3]),
    "vitals.sbp.above_dbp": ("vitals", 1, {"sbp": "80", "dbp": "90"}, [3]),
    "vitals.heart_rate.type": ("vitals", 1, {"heart_rate": "fast"}, [3]),
    "vitals.heart_rate.range": ("vitals", 1, {"heart_rate": "22"}, [3]),
    "vitals.spo2.type": ("vitals", 1, {"spo2": "97%"}, [3]),
    "vitals.spo2.range": ("vitals", 1, {"spo2": "45"}, [3]),
    "vitals.sbp.pre_dose_elevated": ("vitals", 0, {"sbp": "150"}, [2]),
    "vitals.dbp.pre_dose_elevated": ("vitals", 0, {"dbp": "95"}, [2]),
    "vitals.sbp.post_dose_high": ("vitals", 1, {"sbp": "185"}, [3]),
    "vitals.dbp.post_dose_high": ("vitals", 1, {"dbp": "112"}, [3]),
    "vitals.sbp.rise_over_pre": ("vitals", 1, {"sbp": "165"}, [3]),
    "vitals.dbp.rise_over_pre": ("vitals", 1, {"dbp": "105"}, [3]),
    "vitals.spo2.low": ("vitals", 1, {"spo2": "90"}, [3]),
    # assessments: row 0 = A1 PHQ9 (item 9 = 2), row 1 = A2 CADSS at S1, row 2 = A3 MADRS
    "assessments.assessment_id.required": ("assessments", 2, {"assessment_id": ""}, [4]),
    "assessments.assessment_id.unique": ("assessments", "append:2", {}, [4, 5]),
    "assessments.patient_id.required": ("assessments", 2, {"patient_id": ""}, [4]),
    "assessments.patient_id.exists": ("assessments", 2, {"patient_id": "MRN-9"}, [4]),
    "assessments.session_id.exists": ("assessments", 1, {"session_id": "S9"}, [3]),
    "assessments.session_id.peri_dose": ("assessments", 1, {"session_id": ""}, [3]),
    "assessments.minutes_after_dose.peri_dose": ("assessments", 1, {"minutes_after_dose": ""}, [3]),
    "assessments.assessed_at.required": ("assessments", 2, {"assessed_at": ""}, [4]),
    "assessments.assessed_at.type": ("assessments", 2, {"assessed_at": "yesterday"}, [4]),
    "assessments.assessed_at.not_future": ("assessments", 2, {"assessed_at": "2025-03-01T00:00:00Z"}, [4]),
    "assessments.instrument.required": ("assessments", 2, {"instrument": ""}, [4]),
    "assessments.instrument.code": ("assessments", 2, {"instrument": "HAMA"}, [4]),
    "assessments.total_score.required": ("assessments", 2, {"total_score": ""}, [4]),
    "assessments.total_score.type": ("assessments", 2, {"total_score": "32.5"}, [4]),
    "assessments.total_score.range": ("assessments", 2, {"total_score": "61"}, [4]),
    "assessments.item_scores.format": ("assessments", 0, {"item_scores": "3;3;2;2;2;2;2;2;2;0"}, [2]),
    "assessments.item_scores.incomplete": ("assessments", 0, {"item_scores": "3;3;2;2;2;2;2;2"}, [2]),
    "assessments.item_scores.sum": ("assessments", 0, {"total_score": "21"}, [2]),
    "assessments.minutes_after_dose.type": ("assessments", 1, {"minutes_after_dose": "forty"}, [3]),
    "assessments.minutes_after_dose.range": ("assessments", 1, {"minutes_after_dose": "1500"}, [3]),
    "assessments.phq9_item9.positive": ("assessments", 0, {}, [2]),
    "assessments.cssrs.ideation_high": ("assessments", 2, {"instrument": "CSSRS_IDEATION", "total_score": "4"}, [4]),
    "assessments.moaas.unresponsive": ("assessments", 1, {"instrument": "MOAAS", "total_score": "0"}, [3]),
    # adverse_events: row 0 = E1 dissociation at S1
    "adverse_events.ae_id.required": ("adverse_events", 0, {"ae_id": ""}, [2]),
    "adverse_events.ae_id.unique": ("adverse_events", "append:0", {}, [2, 3]),
    "adverse_events.patient_id.required": ("adverse_events", 0, {"patient_id": ""}, [2]),
    "adverse_events.patient_id.exists": ("adverse_events", 0, {"patient_id": "MRN-9"}, [2]),
    "adverse_events.session_id.exists": ("adverse_events", 0, {"session_id": "S9"}, [2]),
    "adverse_events.onset_date.required": ("adverse_events", 0, {"onset_date": ""}, [2]),
    "adverse_events.onset_date.type": ("adverse_events", 0, {"onset_date": "10.01.2025"}, [2]),
    "adverse_events.onset_date.not_future": ("adverse_events", 0, {"onset_date": "2025-03-01", "resolved_date": ""}, [2]),
    "adverse_events.onset_date.after_first_session": ("adverse_events", 0, {"onset_date": "2025-01-01"}, [2]),
    "adverse_events.term.required": ("adverse_events", 0, {"term": ""}, [2]),
    "adverse_events.term.length": ("adverse_events", 0, {"term": "x" * 201}, [2]),
    "adverse_events.term.identifier": ("adverse_events", 0, {"term": "nausea; patient ssn 987-65-4329"}, [2]),
    "adverse_events.meddra_code.format": ("adverse_events", 0, {"meddra_code": "1234"}, [2]),
    "adverse_events.severity.code": ("adverse_events", 0, {"severity": "grade 2"}, [2]),
    "adverse_events.serious.type": ("adverse_events", 0, {"serious": "yes"}, [2]),
    "adverse_events.death.type": ("adverse_events", 0, {"death": "Y"}, [2]),
    "adverse_events.life_threatening.type": ("adverse_events", 0, {"life_threatening": "no"}, [2]),
    "adverse_events.hospitalization.type": ("adverse_events", 0, {"hospitalization": "2"}, [2]),
    "adverse_events.disability.type": ("adverse_events", 0, {"disability": "true"}, [2]),
    "adverse_events.congenital_anomaly.type": ("adverse_events", 0, {"congenital_anomaly": "x"}, [2]),
    "adverse_events.medically_important.type": ("adverse_events", 0, {"medically_important": "-1"}, [2]),
    "adverse_events.serious.criteria": ("adverse_events", 0, {"hospitalization": "1", "serious": "0"}, [2]),
    "adverse_events.related.code": ("adverse_events", 0, {"related": "maybe"}, [2]),
    "adverse_events.outcome.code": ("adverse_events", 0, {"outcome": "resolved"}, [2]),
    "adverse_events.resolved_date.type": ("adverse_events", 0, {"resolved_date": "soon"}, [2]),
    "adverse_events.resolved_date.after_onset": ("adverse_events", 0, {"resolved_date": "2025-01-09"}, [2]),
    "adverse_events.serious.sae": ("adverse_events", 0, {"serious": "1", "hospitalization": "1"}, [2]),
    # labs: row 0 = L1 ALT 30 U/L, ULN 40
    "labs.lab_id.required": ("labs", 0, {"lab_id": ""}, [2]),
    "labs.unit.identifier": ("labs", 0, {"unit": "U/L ed@plant-unit.example"}, [2]),
    "labs.lab_id.unique": ("labs", "append:0", {}, [2, 3]),
    "labs.patient_id.required": ("labs", 0, {"patient_id": ""}, [2]),
    "labs.patient_id.exists": ("labs", 0, {"patient_id": "MRN-9"}, [2]),
    "labs.collected_on.required": ("labs", 0, {"collected_on": ""}, [2]),
    "labs.collected_on.type": ("labs", 0, {"collected_on": "2025-1-11"}, [2]),
    "labs.collected_on.not_future": ("labs", 0, {"collected_on": "2025-03-01"}, [2]),
    "labs.test.required": ("labs", 0, {"test": ""}, [2]),
    "labs.test.code": ("labs", 0, {"test": "XYZ"}, [2]),
    "labs.value.type": ("labs", 0, {"value": "thirty"}, [2]),
    "labs.value.non_negative": ("labs", 0, {"value": "-1"}, [2]),
    "labs.uln.type": ("labs", 0, {"uln": "forty"}, [2]),
    "labs.uln.positive": ("labs", 0, {"uln": "0"}, [2]),
    "labs.value.hepatic_3x_uln": ("labs", 0, {"value": "130"}, [2]),
}

ALL_RULES = {e.meta["rule"]: e.meta["severity"] for b in BUILDERS.values() for e in b()}

# Severities stated here, not read from the catalogue under test (a rule moved from alert to warning
# passed every test when the expected severity came from ALL_RULES). Sources: the contract
# (../shared/docs/export-contract.md section 3: "warn", "is a warning", "Alerts: ...") and, where
# the contract is silent, the decisions the README lists ("Decisions where the contract is silent").
WARNING_RULES = {
    "sessions.dose_mg_per_kg.iv_typical",      # contract: IV ketamine warn < 0.1 or > 1.0
    "sessions.dose_mg_per_kg.oral_typical",    # contract: oral warn outside 0.25-7.0
    "sessions.infusion_minutes.iv_typical",    # contract: IV warn outside 2-100
    "vitals.sbp.pre_dose_elevated",            # contract: pre-dose > 140/90 is a warning
    "vitals.dbp.pre_dose_elevated",
    "labs.test.code",                          # contract: test list ends with "…" (open)
    "patients.diagnosis_icd10.mdd",            # project: a non-MDD code loads, flagged
    "patients.zip.format",                     # contract: zip "kept as its first 3 digits", no reject rule
    "patients.diagnosis_icd10.format",         # contract: "e.g. F33.2", no reject rule
    "sessions.dose_mg.matches_mg_per_kg",      # project: dose arithmetic off by > 5 %
    "assessments.session_id.exists",           # project: optional link to a session
    "adverse_events.session_id.exists",
    "patients.site_id.identifier",             # README: identifiers redacted from free text: warnings
    "adverse_events.term.identifier",
    "labs.unit.identifier",
    "assessments.item_scores.incomplete",      # contract: the sum is checked "when complete";
                                               # clinical-reference 9 S4: a missing item is W
}
ALERT_RULES = {
    "vitals.sbp.post_dose_high",               # contract: post-dose SBP >= 180
    "vitals.dbp.post_dose_high",               # contract: post-dose DBP >= 110
    "vitals.sbp.rise_over_pre",                # contract: rise over pre >= 40 systolic
    "vitals.dbp.rise_over_pre",                # contract: rise over pre >= 25 diastolic
    "vitals.spo2.low",                         # contract: SpO2 < 92
    "assessments.phq9_item9.positive",         # contract: PHQ-9 item 9 >= 1
    "assessments.cssrs.ideation_high",         # contract: C-SSRS ideation >= 4
    "assessments.moaas.unresponsive",          # contract: MOAA/S = 0
    "labs.value.hepatic_3x_uln",               # contract: ALT or AST >= 3 x ULN raises a hepatic alert
    "sessions.monitoring_minutes.rems_minimum",  # contract: REMS deviation (warning + alert)
    "sessions.setting.esketamine_home",        # contract: REMS violation; README: loads and alerts
    "adverse_events.serious.sae",              # README / docs/operations.md: SAE is an alert rule
}
# vitals.<sign>.range are errors: contract "SBP 50-300, DBP 20-160 ... (reject otherwise)"


def expected_severity(rule: str) -> str:
    return "alert" if rule in ALERT_RULES else "warning" if rule in WARNING_RULES else "error"
KEY_COLUMN = {"patients": "patient_id", "sessions": "session_id", "assessments": "assessment_id",
              "adverse_events": "ae_id", "labs": "lab_id"}


def batch_for(table: str) -> tuple[dict, dict[str, list[int]]]:
    """All of a table's cases in one export: each case is an appended copy of its base row, with
    a fresh record key (unless the case is about the key), so cases do not disturb each other.
    Returns the tables and, per rule, the lines where it must fire."""
    tables = base_tables()
    rows = tables[table]
    base_len = len(rows)
    expected: dict[str, list[int]] = {}
    for n, rule in enumerate(sorted(r for r, c in CASES.items() if c[0] == table)):
        _, where, edits, lines = CASES[rule]
        index = int(where.split(":")[1]) if isinstance(where, str) else where
        row = dict(rows[index])
        if isinstance(where, str):  # a duplicate: the copy keeps the key, both lines break the rule
            row.update(edits)
            rows.append(row)
            expected[rule] = [index + 2, len(rows) + 1]
            continue
        key = KEY_COLUMN.get(table)
        if key and key not in edits:
            row[key] = f"{row[key]}-case{n}"
        if table == "vitals" and "minutes_after_dose" not in edits:
            row["minutes_after_dose"] = str(100 + n)  # the vitals key includes the minutes
        if table == "patients":  # a fresh patient has no sessions: keep its enrolment plausible
            row.setdefault("enrolled_on", "2025-01-05")
        row.update(edits)
        rows.append(row)
        expected[rule] = [len(rows) + 1]
    assert len(rows) > base_len
    return tables, expected


def test_every_rule_has_a_case():
    assert sorted(set(ALL_RULES) - set(CASES)) == []
    assert sorted(set(CASES) - set(ALL_RULES)) == []


def test_clean_export_breaks_no_error_rule(tmp_path):
    ws, _, _ = run_validation(tmp_path)
    assert ws.execute("SELECT table_name, source_row, rule FROM q_rows").fetchall() == []
    # the base data carries exactly one alert: PHQ-9 item 9 = 2 on A1
    alerts = ws.execute("SELECT table_name, rule FROM alert_rows").fetchall()
    assert alerts == [("assessments", "assessments.phq9_item9.positive")]


def test_every_rule_has_its_contract_severity():
    """Every expectation of a rule (total_score.range has one per instrument) carries the severity
    stated above, in the catalogue and in the suite files the pipeline runs."""
    assert not WARNING_RULES & ALERT_RULES
    assert WARNING_RULES | ALERT_RULES <= set(ALL_RULES), sorted((WARNING_RULES | ALERT_RULES) - set(ALL_RULES))
    catalogue = {(e.meta["rule"], e.meta["severity"]) for b in BUILDERS.values() for e in b()}
    assert sorted(catalogue) == sorted((r, expected_severity(r)) for r in ALL_RULES)
    on_disk = {(e["meta"]["rule"], e["meta"]["severity"]) for t in BUILDERS
               for e in json.loads((SUITE_DIR / f"{t}.json").read_text())["expectations"]}
    assert sorted(on_disk) == sorted((r, expected_severity(r)) for r in ALL_RULES)
    assert {r for r in ALL_RULES if expected_severity(r) == "error"} == set(ALL_RULES) - WARNING_RULES - ALERT_RULES


@pytest.mark.parametrize("table", sorted(BUILDERS))
def test_rules_of_table(tmp_path, table):
    tables, expected = batch_for(table)
    ws, _, _ = run_validation(tmp_path, tables)
    found = violations(ws)
    quarantined = {(t, l) for t, l in ws.execute("SELECT table_name, source_row FROM q_rows").fetchall()}
    alerts = {r for (r,) in ws.execute("SELECT rule FROM alert_rows").fetchall()}
    base_lines = set(range(2, len(base_tables()[table]) + 2))
    problems = []
    for rule, lines in sorted(expected.items()):
        severity = expected_severity(rule)
        for line in lines:
            if (table, line, rule) not in found:
                problems.append(f"{rule}: not raised on line {line}")
            if line not in base_lines and ((table, line) in quarantined) != (severity == "error"):
                problems.append(f"{rule}: line {line} quarantined={((table, line) in quarantined)}, severity {severity}")
        stray = {l for t, l, r in found if r == rule and t == table and l in base_lines} - set(lines)
        if stray and rule != "assessments.phq9_item9.positive":
            problems.append(f"{rule}: also raised on untouched lines {sorted(stray)}")
        if severity == "alert" and rule not in alerts:
            problems.append(f"{rule}: no alert recorded")
    assert problems == []


def test_a_session_reference_that_does_not_resolve_is_not_kept_with_the_row(tmp_path):
    """It depends on which exports have loaded (a session an earlier export brings, arriving later),
    so a flag kept with the row went stale and differed with the arrival order; the row's own
    warnings stay."""
    tables = base_tables()
    tables["assessments"][1].update(session_id="S9")
    tables["adverse_events"][0].update(session_id="S9", term="felt detached, Dr Jones (555) 013-7789")  # its own warning
    ws, _, _ = run_validation(tmp_path, tables)
    found = violations(ws)
    assert ("assessments", 3, "assessments.session_id.exists") in found
    assert ("adverse_events", 2, "adverse_events.session_id.exists") in found
    kept = dict(ws.execute("SELECT 'assessments:' || _line, warnings FROM warn_assessments UNION ALL "
                           "SELECT 'adverse_events:' || _line, warnings FROM warn_adverse_events").fetchall())
    assert not any(w.endswith(".exists") for ws_ in kept.values() for w in ws_), kept
    assert kept.get("adverse_events:2") == ["adverse_events.term.identifier"]



def test_a_zip_or_diagnosis_of_another_shape_loads_its_patient_with_the_value_empty(tmp_path):
    """The contract sets no reject rule for either: a 4-digit ZIP (a spreadsheet dropped its 0) or
    an ICD-9 code quarantined the patient and parked all their records. Now the patient loads,
    flagged, with zip3 NULL (2139's first 3 digits are not its prefix, 021) and the diagnosis NULL
    (a malformed diagnosis may be free text, which could name a person)."""
    tables = base_tables()
    tables["patients"][0].update(zip="2139", diagnosis_icd10="296.32")  # MRN-1001: S1, its vitals, A1, A2, E1
    # (zip, diagnosis_icd10, zip3 stored, diagnosis stored, warned)
    cases = [("021", "F33.2", "021", "F33.2", False), ("02139-4307", "f32.1", "021", "F32.1", False),
             (" 94110 ", "F33", "941", "F33", False), ("", "", None, None, False),
             ("0213", "F33.2", None, "F33.2", True), ("021390", "F33.2", None, "F33.2", True),
             ("02139-430", "F33.2", None, "F33.2", True), ("ABCDE", "F33.2", None, "F33.2", True),
             ("02139", "F33.", "021", None, True), ("02139", "F3.2", "021", None, True),
             ("02139", "MDD per Dr Jones", "021", None, True), ("02139", "F33.2 recurrent", "021", None, True)]
    for n, (zip_, dx, _, _, _) in enumerate(cases):
        tables["patients"].append(dict(tables["patients"][1], patient_id=f"MRN-20{n:02d}", zip=zip_,
                                       diagnosis_icd10=dx))
    ws, _, _ = run_validation(tmp_path, tables)
    assert ws.execute("SELECT table_name, source_row, rule FROM q_rows").fetchall() == []
    out = dict(ws.execute("SELECT _line, (zip3, diagnosis_icd10) FROM out_patients").fetchall())
    found = violations(ws)
    assert out[2] == (None, None)
    assert {("patients", 2, "patients.zip.format"), ("patients", 2, "patients.diagnosis_icd10.format")} <= found
    for n, (zip_, dx, zip3, stored, warned) in enumerate(cases):
        line = n + 4
        assert out[line] == (zip3, stored), (zip_, dx, out[line])
        rules = {r for t, l, r in found if l == line and r.endswith(".format")}
        assert bool(rules) == warned, (zip_, dx, rules)
    # nothing of MRN-1001 is parked: its session, vitals, assessments (and A1's alert) and AE load
    for table, n in (("sessions", 2), ("vitals", 3), ("assessments", 3), ("adverse_events", 1)):
        assert ws.execute(f"SELECT count(*) FROM out_{table}").fetchone()[0] == n, table
    assert ws.execute("SELECT table_name, rule FROM alert_rows").fetchall() == [
        ("assessments", "assessments.phq9_item9.positive")]


def test_birth_year_is_withheld_from_90_at_the_export(tmp_path):
    """Contract: age at first dose >= 90 stored as 90; Safe Harbor aggregates every age over 89.
    Top-coding by age at enrolment kept the birth year of a patient 90 at first dose (enrolled at 89)
    or 90 by now. The birth year is withheld when the patient is 90 or older at the export (as the
    quarantine withholds it); age_at_enrolment is top-coded at 90, and withheld with the birth year
    when under 90 (enrolled_on less it gave the year back). The export is dated 2025-01-31."""
    tables = base_tables()
    # (birth_date, birth_year, enrolled_on, birth_year kept, age_at_enrolment)
    cases = [("1935-01-02", "", "2024-12-20", None, None),  # 90 at its first dose (S1, 2025-01-10)
             ("", "1935", "2020-03-01", None, None),        # 90 at the export, 85 at enrolment
             ("", "1936", "2025-01-05", 1936, 89),          # 89 at the export
             ("1934-06-01", "", "2025-01-05", None, 90),     # 91 at enrolment: top-coded
             ("1970-04-02", "", "2025-01-05", 1970, 55)]
    for n, (bd, by, enrolled, _, _) in enumerate(cases):
        tables["patients"].append(dict(tables["patients"][0], patient_id=f"MRN-30{n:02d}", birth_date=bd,
                                       birth_year=by, enrolled_on=enrolled))
    tables["patients"][0].update(birth_date="1935-01-02", enrolled_on="2024-12-20")  # MRN-1001, S1 on 2025-01-10
    ws, _, _ = run_validation(tmp_path, tables)
    assert ws.execute("SELECT table_name, source_row, rule FROM q_rows").fetchall() == []
    out = dict(ws.execute("SELECT _line, (birth_year, age_at_enrolment) FROM out_patients").fetchall())
    assert out[2] == (None, None)
    for n, (_, _, _, year, age) in enumerate(cases):
        assert out[n + 4] == (year, age), (cases[n], out[n + 4])


def test_words_in_a_coded_column_are_not_kept_in_the_quarantine(tmp_path):
    """A name typed where a code or number belongs failed its rule and was kept verbatim in
    ops.quarantine (privacy review): no valid value of those columns holds two words, so such a
    value is withheld; one word ('female') is kept for the registry to see what it sent."""
    tables = base_tables()
    tables["patients"].append(dict(tables["patients"][0], patient_id="MRN-4001", sex="Horatio Quimbleton"))
    tables["patients"].append(dict(tables["patients"][0], patient_id="MRN-4002", sex="female"))
    tables["sessions"].append(dict(tables["sessions"][0], session_id="S41", dose_mg="Tabitha Crumplehorn"))
    tables["adverse_events"].append(dict(tables["adverse_events"][0], ae_id="E41",
                                         outcome="called Horatio Quimbleton at home"))
    ws, _, _ = run_validation(tmp_path, tables)
    kept = ws.execute("SELECT rule, raw_values FROM q_rows").fetchall()
    text = " ".join(v for _, v in kept)
    for planted in ("Horatio", "Quimbleton", "Tabitha", "Crumplehorn"):
        assert planted not in text, planted
    by_rule = {}
    for rule, v in kept:
        by_rule.setdefault(rule, []).append(json.loads(v))
    assert [r["dose_mg"] for r in by_rule["sessions.dose_mg.type"]] == ["(withheld: words in a coded column)"]
    assert sorted(r["sex"] for r in by_rule["patients.sex.code"]) == ["(withheld: words in a coded column)", "female"]
    assert [r["outcome"] for r in by_rule["adverse_events.outcome.code"]] == ["(withheld: words in a coded column)"]
