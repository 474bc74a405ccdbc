"""The rule catalogue: every rule of contract section 3 as a Great Expectations expectation.

This module is the source the suite files in `expectations/suites/` are written from
(`python -m expectations.catalogue --write`); the pipeline runs the JSON files, and a test keeps
the two in step. Each expectation's meta carries the rule id, its Kahn data-quality category and
our severity:
- error: the row goes to quarantine;
- warning: the row loads, flagged with the rule id;
- alert: the row loads, flagged, and raises a clinical alert (ops.alerts, `outcomes.safety.alert`);
  a row quarantined by an error rule raises its alerts too, marked (split/alerts.sql).
The suites see the typed staging tables (transforms/sql/staging): `<col>__unparsed` is true where
the column's text failed its type (NULL otherwise), `_...` columns hold facts computed across rows
or tables.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import great_expectations as gx
from great_expectations import expectations as E
from great_expectations.expectations.row_conditions import Column, Condition

SUITE_DIR = Path(__file__).parent / "suites"

INSTRUMENT_RANGES = {
    "PHQ9": 27, "GAD7": 21, "MADRS": 60, "QIDS_SR16": 27, "HAMD17": 52, "CADSS": 92, "MOAAS": 5,
    "CSSRS_IDEATION": 5,
}
DRUGS = ["esketamine", "ketamine", "arketamine", "other"]
ROUTES = ["intranasal", "iv", "im", "oral", "sublingual", "subcutaneous"]
SETTINGS = ["clinic", "inpatient", "emergency", "home"]
TIMEPOINTS = ["pre", "post40", "discharge", "other"]
SEVERITIES = ["mild", "moderate", "severe"]
RELATEDNESS = ["unrelated", "unlikely", "possible", "probable", "definite"]
OUTCOMES = ["recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown"]
LAB_TESTS = ["ALT", "AST", "ALP", "GGT", "BILIRUBIN", "CREATININE", "URINE_RBC", "URINE_WBC",
             "URINE_PROTEIN", "EGFR", "UREA", "ALBUMIN", "INR", "PLATELETS", "URINE_DRUG_SCREEN"]

COMPLETENESS = "completeness"
VALUE = "conformance.value"
RELATIONAL = "conformance.relational"
COMPUTATIONAL = "conformance.computational"
ATEMPORAL = "plausibility.atemporal"
TEMPORAL = "plausibility.temporal"
UNIQUENESS = "plausibility.uniqueness"


def _rule(exp_cls, rule: str, kahn: str, severity: str, description: str, **kwargs):
    if "column_A" in kwargs:  # a pair with one side missing is not a violation; required rules cover that
        kwargs.setdefault("ignore_row_if", "either_value_is_missing")
    return exp_cls(meta={"rule": rule, "kahn": kahn, "severity": severity, "description": description}, **kwargs)


def _when(condition: Condition) -> dict:
    """A row condition as a GX Condition object: string conditions (pandas query text with a
    condition_parser) are deprecated since GX 1.9 and go in GX 2.0."""
    return {"row_condition": condition}


def _required(table: str, col: str, typed: str | None = None, typed_col: bool = False):
    """A value that is present but unparseable breaks its type rule, not this one: the rule holds
    only where x__unparsed is missing."""
    extra = _when(Column(f"{col}__unparsed").is_null()) if typed_col else {}
    return _rule(E.ExpectColumnValuesToNotBeNull, f"{table}.{col}.required", COMPLETENESS, "error",
                 f"{col} is required", column=typed or col, **extra)


def _type(table: str, col: str, what: str):
    return _rule(E.ExpectColumnValuesToBeNull, f"{table}.{col}.type", VALUE, "error",
                 f"{col} must be {what}", column=f"{col}__unparsed")


def _code(table: str, col: str, values: list[str], severity: str = "error"):
    return _rule(E.ExpectColumnValuesToBeInSet, f"{table}.{col}.code", VALUE, severity,
                 f"{col} must be one of {', '.join(values)}", column=col, value_set=values)


def _unique(table: str, what: str):
    return _rule(E.ExpectColumnValuesToBeBetween, f"{table}.{what}.unique", UNIQUENESS, "error",
                 f"{what} must be unique in the export", column="_key_count", max_value=1)


def _exists(table: str, col: str, flag: str, severity: str = "error", parent: str = "patients"):
    return _rule(E.ExpectColumnValuesToBeInSet, f"{table}.{col}.exists", RELATIONAL, severity,
                 f"{col} must exist in {parent} (this export or an earlier one)", column=flag, value_set=[True])


def _not_future(table: str, col: str, day: str):
    """Compared by calendar day (in the registry's time zone): an export cannot hold a date after
    its own, and day resolution keeps the check cheap on millions of distinct datetimes."""
    return _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, f"{table}.{col}.not_future", TEMPORAL, "error",
                 f"{col} must not be after the export's date", column_A="_export_date", column_B=day, or_equal=True)


def _record(table: str, id_col: str) -> list:
    """A patient's record: its id is required and unique, its patient required and known."""
    return [_required(table, id_col), _unique(table, id_col), _required(table, "patient_id", "patient_key"),
            _exists(table, "patient_id", "_patient_exists")]


def _identifier_text(table: str, col: str, what: str):
    """Free text that held what a pattern tells as an identifier: loaded with it redacted (staging's
    redact()), flagged so the registry can be told to keep identifiers out of its exports."""
    return _rule(E.ExpectColumnValuesToNotBeInSet, f"{table}.{col}.identifier", VALUE, "warning",
                 f"{what} held an email, SSN, phone number, IP address, MRN, URL, host name or a patient's id: "
                 "redacted before loading",
                 column="_text_identifier", value_set=[True])


def _vital(col: str, what: str, unit: str, low: int, high: int) -> dict:
    """The contract's range (section 3: "reject otherwise"). The reading is quarantined, but the
    alerts it raises (SpO2 45 %: below 92; SBP 320: at least 180) are still raised
    (split/alerts.sql), so a reading outside the range that may be the most dangerous of the export
    reaches the safety officer, marked as quarantined."""
    return _rule(E.ExpectColumnValuesToBeBetween, f"vitals.{col}.range", ATEMPORAL, "error",
                 f"{what} must be {low}-{high} {unit}", column=col, min_value=low, max_value=high)


def _dated(table: str, col: str, what: str, day: str) -> list:
    """A required date or datetime: present, well-formed, not after the export."""
    return [_required(table, col, typed_col=True), _type(table, col, what), _not_future(table, col, day)]


def patients() -> list:
    t = "patients"
    return [
        _required(t, "patient_id", "patient_key"),
        _unique(t, "patient_id"),
        _type(t, "birth_date", "an ISO date (YYYY-MM-DD)"),
        _type(t, "birth_year", "a whole number"),
        _rule(E.ExpectColumnValuesToBeBetween, "patients.birth_year.range", ATEMPORAL, "error",
              "birth year must be 1900 or later", column="birth_year", min_value=1900),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "patients.birth_year.not_future", TEMPORAL, "error",
              "birth year must not be after the export", column_A="_export_year", column_B="birth_year", or_equal=True),
        _code(t, "sex", ["F", "M", "X", "U"]),
        # warnings: the contract sets no reject rule for zip or diagnosis_icd10, and an error here
        # parked every session, score and alert of the patient; out_patients stores NULL instead
        _rule(E.ExpectColumnValuesToMatchRegex, "patients.zip.format", VALUE, "warning",
              "zip is not a US ZIP (5 digits, ZIP+4, or the 3-digit prefix): zip3 stored empty", column="zip",
              regex=r"^[0-9]{3}(?:[0-9]{2}(?:-[0-9]{4})?)?\Z"),
        _required(t, "enrolled_on", typed_col=True),
        _type(t, "enrolled_on", "an ISO date (YYYY-MM-DD)"),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "patients.enrolled_on.not_future", TEMPORAL, "error",
              "enrolled_on must not be after the export", column_A="_export_date", column_B="enrolled_on", or_equal=True),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "patients.enrolled_on.after_birth", TEMPORAL, "error",
              "enrolled_on must not be before the birth year", column_A="enrolled_on", column_B="_birth_floor",
              or_equal=True),
        _type(t, "trd_failed_trials", "a whole number"),
        _rule(E.ExpectColumnValuesToBeBetween, "patients.trd_failed_trials.range", ATEMPORAL, "error",
              "trd_failed_trials must be 0-30", column="trd_failed_trials", min_value=0, max_value=30),
        _identifier_text(t, "site_id", "site_id"),
        _rule(E.ExpectColumnValuesToMatchRegex, "patients.diagnosis_icd10.format", VALUE, "warning",
              "diagnosis_icd10 is not an ICD-10 code such as F33.2: stored empty", column="diagnosis_icd10",
              regex=r"^[A-Z][0-9]{2}(?:\.[0-9A-Z]{1,4})?\Z"),
        _rule(E.ExpectColumnValuesToMatchRegex, "patients.diagnosis_icd10.mdd", ATEMPORAL, "warning",
              "diagnosis is not major depressive disorder (F32.x / F33.x)", column="diagnosis_icd10",
              regex=r"^F3[23]"),
    ]


def sessions() -> list:
    t = "sessions"
    esk = Column("drug") == "esketamine"
    iv_ket = (Column("drug") == "ketamine") & (Column("route") == "iv")
    return [
        *_record(t, "session_id"),
        *_dated(t, "session_start", "an ISO 8601 datetime", "_session_date"),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "sessions.session_start.after_enrolment", TEMPORAL, "error",
              "session_start must not be more than 30 days before the patient's enrolled_on",
              column_A="_session_date", column_B="_earliest_start", or_equal=True),
        _required(t, "drug"),
        _code(t, "drug", DRUGS),
        _required(t, "route"),
        _code(t, "route", ROUTES),
        _rule(E.ExpectColumnValuesToBeInSet, "sessions.route.esketamine_intranasal", ATEMPORAL, "error",
              "esketamine is given intranasally", column="route", value_set=["intranasal"], **_when(esk)),
        _type(t, "dose_mg", "a number"),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.dose_mg.positive", ATEMPORAL, "error",
              "dose_mg must be greater than 0", column="dose_mg", min_value=0, strict_min=True),
        _rule(E.ExpectColumnValuesToBeInSet, "sessions.dose_mg.esketamine_strength", ATEMPORAL, "error",
              "esketamine dose_mg must be 28, 56 or 84", column="dose_mg", value_set=[28, 56, 84], **_when(esk)),
        _type(t, "dose_mg_per_kg", "a number"),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.dose_mg_per_kg.iv_max", ATEMPORAL, "error",
              "IV ketamine above 4.5 mg/kg (the anaesthetic induction ceiling)", column="dose_mg_per_kg",
              max_value=4.5, **_when(iv_ket)),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.dose_mg_per_kg.iv_typical", ATEMPORAL, "warning",
              "IV ketamine outside 0.1-1.0 mg/kg", column="dose_mg_per_kg", min_value=0.1, max_value=1.0,
              **_when(iv_ket)),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.dose_mg_per_kg.oral_typical", ATEMPORAL, "warning",
              "oral ketamine outside 0.25-7.0 mg/kg", column="dose_mg_per_kg", min_value=0.25, max_value=7.0,
              **_when((Column("drug") == "ketamine") & (Column("route") == "oral"))),
        _type(t, "weight_kg", "a number"),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.weight_kg.range", ATEMPORAL, "error",
              "weight_kg must be 30-300", column="weight_kg", min_value=30, max_value=300),
        _rule(E.ExpectColumnValuesToNotBeNull, "sessions.weight_kg.required_for_mg_per_kg", COMPLETENESS, "error",
              "weight_kg is required when dose_mg_per_kg is given", column="weight_kg",
              **_when(Column("dose_mg_per_kg").is_not_null())),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.dose_mg.matches_mg_per_kg", COMPUTATIONAL, "warning",
              "dose_mg differs from dose_mg_per_kg x weight_kg by more than 5 %", column="_dose_mismatch",
              max_value=0.05),
        _type(t, "infusion_minutes", "a whole number"),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.infusion_minutes.iv_typical", ATEMPORAL, "warning",
              "IV infusion outside 2-100 minutes", column="infusion_minutes", min_value=2, max_value=100,
              **_when(Column("route") == "iv")),
        _type(t, "devices", "a whole number"),
        _rule(E.ExpectColumnPairValuesToBeEqual, "sessions.devices.esketamine_devices", COMPUTATIONAL, "error",
              "esketamine devices must equal dose_mg / 28 (1-3)", column_A="devices", column_B="_esk_devices",
              **_when(esk)),
        # the pair rule above skips a row without dose_mg: the 1-3 bound holds on its own
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.devices.esketamine_range", ATEMPORAL, "error",
              "esketamine devices must be 1-3", column="devices", min_value=1, max_value=3, **_when(esk)),
        _code(t, "setting", SETTINGS),
        _rule(E.ExpectColumnValuesToNotBeInSet, "sessions.setting.esketamine_home", ATEMPORAL, "alert",
              "esketamine given at home: a REMS violation", column="setting", value_set=["home"], **_when(esk)),
        _type(t, "monitoring_minutes", "a whole number"),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.monitoring_minutes.range", ATEMPORAL, "error",
              "monitoring_minutes must be 0-1440", column="monitoring_minutes", min_value=0, max_value=1440),
        _rule(E.ExpectColumnValuesToBeBetween, "sessions.monitoring_minutes.rems_minimum", ATEMPORAL, "alert",
              "esketamine monitored for less than the REMS minimum of 120 minutes", column="monitoring_minutes",
              min_value=120, **_when(esk)),
    ]


def vitals() -> list:
    t = "vitals"
    post = Column("timepoint") != "pre"
    return [
        _required(t, "session_id"),
        _exists(t, "session_id", "_session_exists", parent="sessions"),
        _required(t, "timepoint"),
        _code(t, "timepoint", TIMEPOINTS),
        _unique(t, "timepoint"),
        _type(t, "minutes_after_dose", "a whole number"),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.minutes_after_dose.range", ATEMPORAL, "error",
              "minutes_after_dose must be 0-1440", column="minutes_after_dose", min_value=0, max_value=1440),
        _type(t, "sbp", "a whole number"),
        _vital("sbp", "systolic pressure", "mmHg", 50, 300),
        _type(t, "dbp", "a whole number"),
        _vital("dbp", "diastolic pressure", "mmHg", 20, 160),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "vitals.sbp.above_dbp", ATEMPORAL, "error",
              "systolic pressure must be above diastolic", column_A="sbp", column_B="dbp", or_equal=False),
        _type(t, "heart_rate", "a whole number"),
        _vital("heart_rate", "heart rate", "/min", 25, 250),
        _type(t, "spo2", "a whole number"),
        _vital("spo2", "SpO2", "%", 50, 100),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.sbp.pre_dose_elevated", ATEMPORAL, "warning",
              "pre-dose blood pressure above 140/90", column="sbp", max_value=140, **_when(Column("timepoint") == "pre")),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.dbp.pre_dose_elevated", ATEMPORAL, "warning",
              "pre-dose blood pressure above 140/90", column="dbp", max_value=90, **_when(Column("timepoint") == "pre")),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.sbp.post_dose_high", ATEMPORAL, "alert",
              "notable blood-pressure rise: post-dose systolic >= 180 mmHg", column="sbp", max_value=180, strict_max=True, **_when(post)),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.dbp.post_dose_high", ATEMPORAL, "alert",
              "notable blood-pressure rise: post-dose diastolic >= 110 mmHg", column="dbp", max_value=110, strict_max=True, **_when(post)),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.sbp.rise_over_pre", ATEMPORAL, "alert",
              "notable blood-pressure rise: systolic up >= 40 mmHg over pre-dose", column="_sbp_rise", max_value=40, strict_max=True),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.dbp.rise_over_pre", ATEMPORAL, "alert",
              "notable blood-pressure rise: diastolic up >= 25 mmHg over pre-dose", column="_dbp_rise", max_value=25, strict_max=True),
        _rule(E.ExpectColumnValuesToBeBetween, "vitals.spo2.low", ATEMPORAL, "alert",
              "SpO2 below 92 %", column="spo2", min_value=92),
    ]


def assessments() -> list:
    t = "assessments"
    peri = Column("instrument").is_in(["CADSS", "MOAAS"])
    rules = [
        *_record(t, "assessment_id"),
        _exists(t, "session_id", "_session_exists", severity="warning", parent="sessions"),
        # contract: session_id "when peri-dose (CADSS, MOAA/S)", minutes_after_dose "peri-dose
        # instruments"; without them a score falls out of the dissociation and sedation marts
        _rule(E.ExpectColumnValuesToNotBeNull, "assessments.session_id.peri_dose", COMPLETENESS, "error",
              "session_id is required for a peri-dose score (CADSS, MOAA/S)", column="session_id", **_when(peri)),
        _rule(E.ExpectColumnValuesToNotBeNull, "assessments.minutes_after_dose.peri_dose", COMPLETENESS, "error",
              "minutes_after_dose is required for a peri-dose score (CADSS, MOAA/S)", column="minutes_after_dose",
              **_when(peri & Column("minutes_after_dose__unparsed").is_null())),
        *_dated(t, "assessed_at", "an ISO 8601 datetime", "_assessed_on"),
        _required(t, "instrument"),
        _code(t, "instrument", list(INSTRUMENT_RANGES)),
        _required(t, "total_score", typed_col=True),
        _type(t, "total_score", "a whole number"),
    ]
    for instrument, top in INSTRUMENT_RANGES.items():
        rules.append(_rule(E.ExpectColumnValuesToBeBetween, "assessments.total_score.range", ATEMPORAL, "error",
                           f"{instrument} total must be 0-{top}", column="total_score", min_value=0, max_value=top,
                           **_when(Column("instrument") == instrument)))
    rules += [
        _rule(E.ExpectColumnValuesToBeInSet, "assessments.item_scores.format", VALUE, "error",
              "item_scores must be ';'-separated whole numbers (blank for an item not answered), "
              "at most one per item, each within the item range",
              column="_items_valid", value_set=[True]),
        # the contract checks the sum "when complete"; a missing item is a warning (clinical-reference 9 S4)
        _rule(E.ExpectColumnValuesToBeInSet, "assessments.item_scores.incomplete", COMPLETENESS, "warning",
              "item_scores leave items blank or out: their sum is not checked", column="_items_complete",
              value_set=[True], **_when(Column("_items_valid") == True)),
        _rule(E.ExpectColumnPairValuesToBeEqual, "assessments.item_scores.sum", COMPUTATIONAL, "error",
              "item scores must add up to total_score (QIDS-SR16 by domain maxima)",
              column_A="_item_sum", column_B="total_score", **_when(Column("_items_complete") == True)),
        _type(t, "minutes_after_dose", "a whole number"),
        # negative = before the dose: a pre-dose CADSS or MOAA/S at -5 is how peri-dose scores are kept
        _rule(E.ExpectColumnValuesToBeBetween, "assessments.minutes_after_dose.range", ATEMPORAL, "error",
              "minutes_after_dose must be -1440 to 1440", column="minutes_after_dose", min_value=-1440,
              max_value=1440),
        _rule(E.ExpectColumnValuesToBeBetween, "assessments.phq9_item9.positive", ATEMPORAL, "alert",
              "PHQ-9 item 9 (thoughts of death or self-harm) >= 1", column="_item9", max_value=0),
        _rule(E.ExpectColumnValuesToBeBetween, "assessments.cssrs.ideation_high", ATEMPORAL, "alert",
              "C-SSRS ideation >= 4 (active ideation with intent)", column="total_score", max_value=4, strict_max=True,
              **_when(Column("instrument") == "CSSRS_IDEATION")),
        _rule(E.ExpectColumnValuesToBeBetween, "assessments.moaas.unresponsive", ATEMPORAL, "alert",
              "MOAA/S 0: loss of consciousness", column="total_score", min_value=1,
              **_when(Column("instrument") == "MOAAS")),
    ]
    return rules


def adverse_events() -> list:
    t = "adverse_events"
    rules = [
        *_record(t, "ae_id"),
        _exists(t, "session_id", "_session_exists", severity="warning", parent="sessions"),
        *_dated(t, "onset_date", "an ISO date (YYYY-MM-DD)", "onset_date"),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "adverse_events.onset_date.after_first_session", TEMPORAL,
              "error", "onset_date must not be before the patient's first session - 1 day",
              column_A="onset_date", column_B="_earliest_onset", or_equal=True),
        _required(t, "term"),
        _rule(E.ExpectColumnValueLengthsToBeBetween, "adverse_events.term.length", VALUE, "error",
              "term must be at most 200 characters", column="term", max_value=200),
        _identifier_text(t, "term", "term or meddra_pt"),
        _rule(E.ExpectColumnValuesToMatchRegex, "adverse_events.meddra_code.format", VALUE, "error",
              "meddra_code must be 8 digits", column="meddra_code", regex=r"^\d{8}$"),
        _code(t, "severity", SEVERITIES),
        _type(t, "serious", "0 or 1"),
    ]
    for crit in ("death", "life_threatening", "hospitalization", "disability", "congenital_anomaly",
                 "medically_important"):
        rules.append(_type(t, crit, "0 or 1"))
    rules += [
        _rule(E.ExpectColumnValuesToBeInSet, "adverse_events.serious.criteria", COMPUTATIONAL, "error",
              "serious must be 1 when any ICH E2A criterion is 1", column="serious", value_set=[True],
              **_when(Column("_criteria_met") == True)),
        _code(t, "related", RELATEDNESS),
        _code(t, "outcome", OUTCOMES),
        _type(t, "resolved_date", "an ISO date (YYYY-MM-DD)"),
        _rule(E.ExpectColumnPairValuesAToBeGreaterThanB, "adverse_events.resolved_date.after_onset", TEMPORAL,
              "error", "resolved_date must not be before onset_date", column_A="resolved_date",
              column_B="onset_date", or_equal=True),
        _rule(E.ExpectColumnValuesToNotBeInSet, "adverse_events.serious.sae", ATEMPORAL, "alert",
              "serious adverse event", column="serious", value_set=[True]),
    ]
    return rules


def labs() -> list:
    t = "labs"
    return [
        *_record(t, "lab_id"),
        *_dated(t, "collected_on", "an ISO date (YYYY-MM-DD)", "collected_on"),
        _required(t, "test"),
        _code(t, "test", LAB_TESTS, severity="warning"),
        _identifier_text(t, "unit", "test or unit"),
        _type(t, "value", "a number"),
        _rule(E.ExpectColumnValuesToBeBetween, "labs.value.non_negative", ATEMPORAL, "error",
              "value must be >= 0", column="value", min_value=0),
        _type(t, "uln", "a number"),
        _rule(E.ExpectColumnValuesToBeBetween, "labs.uln.positive", ATEMPORAL, "error",
              "uln must be greater than 0", column="uln", min_value=0, strict_min=True),
        _rule(E.ExpectColumnValuesToBeBetween, "labs.value.hepatic_3x_uln", ATEMPORAL, "alert",
              "ALT or AST >= 3 x ULN", column="_x_uln", max_value=3, strict_max=True,
              **_when(Column("test").is_in(["ALT", "AST"]))),
    ]


BUILDERS = {
    "patients": patients, "sessions": sessions, "vitals": vitals, "assessments": assessments,
    "adverse_events": adverse_events, "labs": labs,
}


def build_suite(table: str) -> gx.ExpectationSuite:
    return gx.ExpectationSuite(name=table, expectations=BUILDERS[table]())


def suite_json(table: str) -> dict:
    d = build_suite(table).to_json_dict()
    d.pop("id", None)
    d["meta"] = {"table": table, "written_by": "python -m expectations.catalogue --write"}
    for e in d["expectations"]:
        e.pop("id", None)
    return d


def write_suites(directory: Path = SUITE_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for table in BUILDERS:
        path = directory / f"{table}.json"
        path.write_text(json.dumps(suite_json(table), indent=2, sort_keys=True) + "\n")
        out.append(path)
    return out


if __name__ == "__main__":
    if "--write" in sys.argv:
        for p in write_suites():
            print(p)
    else:
        print(json.dumps({t: suite_json(t) for t in BUILDERS}, indent=2, sort_keys=True))
