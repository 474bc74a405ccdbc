"""Every threshold and range rule at its edge: a value just inside must not fire the rule, a value
just outside must. test_rules.py breaks each rule once, far past its limit (SBP 185 for >= 180), so
a limit made strict or moved (SpO2 92 -> 91, REMS 120 -> 100, IV 4.5 -> 4.9 mg/kg, enrolment - 30
-> - 45 days) passed it.

The limits are written here from the contract's text (../shared/docs/export-contract.md section 3)
and the clinical reference (../shared/docs/clinical-reference.md 1.1-1.2), never read from the
catalogue under test. One export per table holds all of that table's cases as appended rows (one
validation run per table). Runs the real read -> stage -> Great Expectations path, without Prefect.
"""
from __future__ import annotations

import pytest

from expectations.catalogue import INSTRUMENT_RANGES
from pipeline import base_tables, run_validation, violations

# The contract's total ranges (section 3, assessments.instrument; clinical reference 1.1).
CONTRACT_TOTALS = {"PHQ9": (0, 27), "GAD7": (0, 21), "MADRS": (0, 60), "QIDS_SR16": (0, 27),
                   "HAMD17": (0, 52), "CADSS": (0, 92), "MOAAS": (0, 5), "CSSRS_IDEATION": (0, 5)}
# Items per instrument and the highest item value (clinical reference 1.1: PHQ-9 9 x 0-3, GAD-7
# 7 x 0-3, MADRS 10 x 0-6, QIDS-SR16 16 x 0-3, HAM-D17 17 items of 0-4 or 0-2, CADSS 23 x 0-4;
# MOAA/S and C-SSRS ideation are one score, 0-5).
CONTRACT_ITEMS = {"PHQ9": (9, 3), "GAD7": (7, 3), "MADRS": (10, 6), "QIDS_SR16": (16, 3),
                  "HAMD17": (17, 4), "CADSS": (23, 4), "MOAAS": (1, 5), "CSSRS_IDEATION": (1, 5)}


def _items(n: int, first: int, rest: int = 0) -> str:
    return ";".join([str(first)] + [str(rest)] * (n - 1))


# (rule, table, base row to copy, {column: value}, fires)
# Base rows (tests/exports.py): sessions 0 = S1 esketamine 56 mg / 2 devices, patient MRN-1001;
# 1 = S2 IV ketamine 0.5 mg/kg x 80 kg = 40 mg, patient MRN-1002 enrolled 2025-01-06. Vitals 0 = S1
# pre 122/78, 1 = S1 post40, 2 = S2 pre 118/75 (S2 has no post-dose reading). Assessments 2 = A3
# MADRS of MRN-1002 without items. Adverse events 0 = E1 of MRN-1001, whose first session (S1) is
# 2025-01-10. Labs 0 = L1 ALT, ULN 40. The export is dated 2025-01-31 (tests/exports.py).
EDGES: list[tuple[str, str, int, dict, bool]] = [
    # patients: trd_failed_trials 0-30
    ("patients.trd_failed_trials.range", "patients", 0, {"trd_failed_trials": "0"}, False),
    ("patients.trd_failed_trials.range", "patients", 0, {"trd_failed_trials": "30"}, False),
    ("patients.trd_failed_trials.range", "patients", 0, {"trd_failed_trials": "31"}, True),
    ("patients.trd_failed_trials.range", "patients", 0, {"trd_failed_trials": "-1"}, True),
    # enrolled_on not in the future (README: not after the export's own date)
    ("patients.enrolled_on.not_future", "patients", 0, {"enrolled_on": "2025-01-31"}, False),
    ("patients.enrolled_on.not_future", "patients", 0, {"enrolled_on": "2025-02-01"}, True),

    # sessions: session_start not before enrolled_on - 30 days (2025-01-06 - 30 = 2024-12-07)
    ("sessions.session_start.after_enrolment", "sessions", 1, {"session_start": "2024-12-07T12:00:00Z"}, False),
    ("sessions.session_start.after_enrolment", "sessions", 1, {"session_start": "2024-12-06T12:00:00Z"}, True),
    ("sessions.session_start.not_future", "sessions", 1, {"session_start": "2025-01-31T12:00:00Z"}, False),
    ("sessions.session_start.not_future", "sessions", 1, {"session_start": "2025-02-01T12:00:00Z"}, True),
    # dose_mg > 0
    ("sessions.dose_mg.positive", "sessions", 1, {"dose_mg": "0.1", "dose_mg_per_kg": "", "weight_kg": ""}, False),
    ("sessions.dose_mg.positive", "sessions", 1, {"dose_mg": "0", "dose_mg_per_kg": "", "weight_kg": ""}, True),
    # esketamine dose_mg in {28, 56, 84}, devices = dose_mg / 28
    ("sessions.dose_mg.esketamine_strength", "sessions", 0, {"dose_mg": "28", "devices": "1"}, False),
    ("sessions.dose_mg.esketamine_strength", "sessions", 0, {"dose_mg": "84", "devices": "3"}, False),
    ("sessions.dose_mg.esketamine_strength", "sessions", 0, {"dose_mg": "27", "devices": "1"}, True),
    ("sessions.dose_mg.esketamine_strength", "sessions", 0, {"dose_mg": "85", "devices": "3"}, True),
    ("sessions.dose_mg.esketamine_strength", "sessions", 0, {"dose_mg": "112", "devices": "4"}, True),
    ("sessions.devices.esketamine_devices", "sessions", 0, {"dose_mg": "28", "devices": "1"}, False),
    ("sessions.devices.esketamine_devices", "sessions", 0, {"dose_mg": "84", "devices": "3"}, False),
    ("sessions.devices.esketamine_devices", "sessions", 0, {"dose_mg": "84", "devices": "2"}, True),
    # esketamine devices 1-3 on their own, dose_mg given or not (contract: "esketamine: dose_mg / 28 (1-3)")
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "", "devices": "1"}, False),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "", "devices": "3"}, False),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "", "devices": "0"}, True),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "", "devices": "4"}, True),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "84", "devices": "3"}, False),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "112", "devices": "4"}, True),
    ("sessions.devices.esketamine_range", "sessions", 0, {"dose_mg": "", "devices": ""}, False),
    ("sessions.devices.esketamine_range", "sessions", 1, {"devices": "5"}, False),  # IV ketamine
    # IV ketamine: reject > 4.5 mg/kg; warn < 0.1 or > 1.0
    ("sessions.dose_mg_per_kg.iv_max", "sessions", 1, {"dose_mg_per_kg": "4.5", "dose_mg": "360"}, False),
    ("sessions.dose_mg_per_kg.iv_max", "sessions", 1, {"dose_mg_per_kg": "4.51", "dose_mg": "360.8"}, True),
    ("sessions.dose_mg_per_kg.iv_typical", "sessions", 1, {"dose_mg_per_kg": "0.1", "dose_mg": "8"}, False),
    ("sessions.dose_mg_per_kg.iv_typical", "sessions", 1, {"dose_mg_per_kg": "0.09", "dose_mg": "7.2"}, True),
    ("sessions.dose_mg_per_kg.iv_typical", "sessions", 1, {"dose_mg_per_kg": "1.0", "dose_mg": "80"}, False),
    ("sessions.dose_mg_per_kg.iv_typical", "sessions", 1, {"dose_mg_per_kg": "1.01", "dose_mg": "80.8"}, True),
    # oral ketamine: warn outside 0.25-7.0 mg/kg
    ("sessions.dose_mg_per_kg.oral_typical", "sessions", 1,
     {"route": "oral", "infusion_minutes": "", "dose_mg_per_kg": "0.25", "dose_mg": "20"}, False),
    ("sessions.dose_mg_per_kg.oral_typical", "sessions", 1,
     {"route": "oral", "infusion_minutes": "", "dose_mg_per_kg": "0.24", "dose_mg": "19.2"}, True),
    ("sessions.dose_mg_per_kg.oral_typical", "sessions", 1,
     {"route": "oral", "infusion_minutes": "", "dose_mg_per_kg": "7.0", "dose_mg": "560"}, False),
    ("sessions.dose_mg_per_kg.oral_typical", "sessions", 1,
     {"route": "oral", "infusion_minutes": "", "dose_mg_per_kg": "7.01", "dose_mg": "560.8"}, True),
    # weight_kg 30-300
    ("sessions.weight_kg.range", "sessions", 1, {"weight_kg": "30", "dose_mg": "15"}, False),
    ("sessions.weight_kg.range", "sessions", 1, {"weight_kg": "29.9", "dose_mg": "14.95"}, True),
    ("sessions.weight_kg.range", "sessions", 1, {"weight_kg": "300", "dose_mg": "150"}, False),
    ("sessions.weight_kg.range", "sessions", 1, {"weight_kg": "300.1", "dose_mg": "150.05"}, True),
    # IV infusion: warn outside 2-100 minutes
    ("sessions.infusion_minutes.iv_typical", "sessions", 1, {"infusion_minutes": "2"}, False),
    ("sessions.infusion_minutes.iv_typical", "sessions", 1, {"infusion_minutes": "1"}, True),
    ("sessions.infusion_minutes.iv_typical", "sessions", 1, {"infusion_minutes": "100"}, False),
    ("sessions.infusion_minutes.iv_typical", "sessions", 1, {"infusion_minutes": "101"}, True),
    # esketamine monitoring < 120 is a REMS deviation; esketamine at home a REMS violation
    ("sessions.monitoring_minutes.rems_minimum", "sessions", 0, {"monitoring_minutes": "120"}, False),
    ("sessions.monitoring_minutes.rems_minimum", "sessions", 0, {"monitoring_minutes": "119"}, True),
    ("sessions.monitoring_minutes.rems_minimum", "sessions", 1, {"monitoring_minutes": "60"}, False),  # not esketamine
    ("sessions.setting.esketamine_home", "sessions", 0, {"setting": "inpatient"}, False),
    ("sessions.setting.esketamine_home", "sessions", 0, {"setting": "emergency"}, False),
    ("sessions.setting.esketamine_home", "sessions", 1, {"setting": "home"}, False),  # IV ketamine at home
    ("sessions.setting.esketamine_home", "sessions", 0, {"setting": "home"}, True),

    # vitals: minutes_after_dose 0-1440 (post40 rows of S1)
    ("vitals.minutes_after_dose.range", "vitals", 1, {"minutes_after_dose": "1440"}, False),
    ("vitals.minutes_after_dose.range", "vitals", 1, {"minutes_after_dose": "1441"}, True),
    ("vitals.minutes_after_dose.range", "vitals", 1, {"minutes_after_dose": "-1"}, True),
    # SBP 50-300, DBP 20-160, heart rate 25-250, SpO2 50-100 (both sides; rows "other" of S1)
    ("vitals.sbp.range", "vitals", 1, {"timepoint": "other", "sbp": "50", "dbp": "40"}, False),
    ("vitals.sbp.range", "vitals", 1, {"timepoint": "other", "sbp": "49", "dbp": "40"}, True),
    ("vitals.sbp.range", "vitals", 1, {"timepoint": "other", "sbp": "300"}, False),
    ("vitals.sbp.range", "vitals", 1, {"timepoint": "other", "sbp": "301"}, True),
    ("vitals.dbp.range", "vitals", 1, {"timepoint": "other", "dbp": "20"}, False),
    ("vitals.dbp.range", "vitals", 1, {"timepoint": "other", "dbp": "19"}, True),
    ("vitals.dbp.range", "vitals", 1, {"timepoint": "other", "sbp": "200", "dbp": "160"}, False),
    ("vitals.dbp.range", "vitals", 1, {"timepoint": "other", "sbp": "200", "dbp": "161"}, True),
    ("vitals.heart_rate.range", "vitals", 1, {"timepoint": "other", "heart_rate": "25"}, False),
    ("vitals.heart_rate.range", "vitals", 1, {"timepoint": "other", "heart_rate": "24"}, True),
    ("vitals.heart_rate.range", "vitals", 1, {"timepoint": "other", "heart_rate": "250"}, False),
    ("vitals.heart_rate.range", "vitals", 1, {"timepoint": "other", "heart_rate": "251"}, True),
    ("vitals.spo2.range", "vitals", 1, {"timepoint": "other", "spo2": "50"}, False),
    ("vitals.spo2.range", "vitals", 1, {"timepoint": "other", "spo2": "49"}, True),
    ("vitals.spo2.range", "vitals", 1, {"timepoint": "other", "spo2": "100"}, False),
    ("vitals.spo2.range", "vitals", 1, {"timepoint": "other", "spo2": "101"}, True),
    # SBP > DBP (reject otherwise)
    ("vitals.sbp.above_dbp", "vitals", 1, {"sbp": "101", "dbp": "100"}, False),
    ("vitals.sbp.above_dbp", "vitals", 1, {"sbp": "100", "dbp": "100"}, True),
    # post-dose SBP >= 180 or DBP >= 110: alert (post40 rows of S1); a pre-dose reading never
    ("vitals.sbp.post_dose_high", "vitals", 1, {"sbp": "179"}, False),
    ("vitals.sbp.post_dose_high", "vitals", 1, {"sbp": "180"}, True),
    ("vitals.sbp.post_dose_high", "vitals", 1, {"timepoint": "discharge", "sbp": "180"}, True),
    ("vitals.dbp.post_dose_high", "vitals", 1, {"dbp": "109"}, False),
    ("vitals.dbp.post_dose_high", "vitals", 1, {"dbp": "110"}, True),
    ("vitals.sbp.post_dose_high", "vitals", 2, {"sbp": "185"}, False),
    ("vitals.dbp.post_dose_high", "vitals", 2, {"sbp": "185", "dbp": "112"}, False),
    # rise over S1's pre (122/78) of >= 40 systolic or >= 25 diastolic
    ("vitals.sbp.rise_over_pre", "vitals", 1, {"sbp": "161"}, False),
    ("vitals.sbp.rise_over_pre", "vitals", 1, {"sbp": "162"}, True),
    ("vitals.dbp.rise_over_pre", "vitals", 1, {"dbp": "102"}, False),
    ("vitals.dbp.rise_over_pre", "vitals", 1, {"dbp": "103"}, True),
    # SpO2 < 92: alert
    ("vitals.spo2.low", "vitals", 1, {"spo2": "92"}, False),
    ("vitals.spo2.low", "vitals", 1, {"spo2": "91"}, True),
    # pre-dose > 140/90 is a warning (pre rows of S2, later than its first pre reading)
    ("vitals.sbp.pre_dose_elevated", "vitals", 2, {"sbp": "140"}, False),
    ("vitals.sbp.pre_dose_elevated", "vitals", 2, {"sbp": "141"}, True),
    ("vitals.dbp.pre_dose_elevated", "vitals", 2, {"dbp": "90"}, False),
    ("vitals.dbp.pre_dose_elevated", "vitals", 2, {"dbp": "91"}, True),
    ("vitals.sbp.pre_dose_elevated", "vitals", 1, {"sbp": "150"}, False),  # post-dose: not this rule

    # assessments: PHQ-9 item 9 >= 1, C-SSRS ideation >= 4, MOAA/S = 0
    ("assessments.phq9_item9.positive", "assessments", 2,
     {"instrument": "PHQ9", "item_scores": "3;3;2;2;2;2;2;2;0", "total_score": "18"}, False),
    ("assessments.phq9_item9.positive", "assessments", 2,
     {"instrument": "PHQ9", "item_scores": "3;3;2;2;2;2;2;2;1", "total_score": "19"}, True),
    ("assessments.cssrs.ideation_high", "assessments", 2, {"instrument": "CSSRS_IDEATION", "total_score": "3"}, False),
    ("assessments.cssrs.ideation_high", "assessments", 2, {"instrument": "CSSRS_IDEATION", "total_score": "4"}, True),
    ("assessments.cssrs.ideation_high", "assessments", 2, {"instrument": "CSSRS_IDEATION", "total_score": "5"}, True),
    ("assessments.moaas.unresponsive", "assessments", 2, {"instrument": "MOAAS", "total_score": "1"}, False),
    ("assessments.moaas.unresponsive", "assessments", 2, {"instrument": "MOAAS", "total_score": "0"}, True),
    # peri-dose scores (contract: session_id "when peri-dose (CADSS, MOAA/S)", minutes_after_dose
    # "peri-dose instruments"); row 1 = A2 CADSS at S1, 40 minutes; row 2 = A3 MADRS, no session
    ("assessments.session_id.peri_dose", "assessments", 1, {}, False),
    ("assessments.session_id.peri_dose", "assessments", 1, {"session_id": ""}, True),
    ("assessments.session_id.peri_dose", "assessments", 1, {"session_id": "  "}, True),
    ("assessments.session_id.peri_dose", "assessments", 1, {"instrument": "MOAAS", "total_score": "5",
                                                            "session_id": ""}, True),
    ("assessments.session_id.peri_dose", "assessments", 1, {"session_id": "S9"}, False),  # .exists, a warning
    ("assessments.session_id.peri_dose", "assessments", 2, {}, False),                    # MADRS
    ("assessments.session_id.peri_dose", "assessments", 1, {"instrument": "PHQ9", "total_score": "5",
                                                            "session_id": ""}, False),
    ("assessments.minutes_after_dose.peri_dose", "assessments", 1, {"minutes_after_dose": "0"}, False),
    ("assessments.minutes_after_dose.peri_dose", "assessments", 1, {"minutes_after_dose": "-5"}, False),
    ("assessments.minutes_after_dose.peri_dose", "assessments", 1, {"minutes_after_dose": ""}, True),
    ("assessments.minutes_after_dose.peri_dose", "assessments", 1, {"instrument": "MOAAS", "total_score": "5",
                                                                    "minutes_after_dose": ""}, True),
    ("assessments.minutes_after_dose.peri_dose", "assessments", 1, {"minutes_after_dose": "forty"}, False),  # .type
    ("assessments.minutes_after_dose.peri_dose", "assessments", 2, {"minutes_after_dose": ""}, False),      # MADRS
    # assessed_at not after the export's date
    ("assessments.assessed_at.not_future", "assessments", 2, {"assessed_at": "2025-01-31T12:00:00Z"}, False),
    ("assessments.assessed_at.not_future", "assessments", 2, {"assessed_at": "2025-02-01T12:00:00Z"}, True),

    # adverse events: onset not before the first session - 1 day (S1 2025-01-10 -> 2025-01-09)
    ("adverse_events.onset_date.after_first_session", "adverse_events", 0, {"onset_date": "2025-01-09"}, False),
    ("adverse_events.onset_date.after_first_session", "adverse_events", 0, {"onset_date": "2025-01-08"}, True),
    ("adverse_events.onset_date.not_future", "adverse_events", 0,
     {"onset_date": "2025-01-31", "resolved_date": ""}, False),
    ("adverse_events.onset_date.not_future", "adverse_events", 0,
     {"onset_date": "2025-02-01", "resolved_date": ""}, True),
    # resolved_date >= onset_date
    ("adverse_events.resolved_date.after_onset", "adverse_events", 0,
     {"onset_date": "2025-01-12", "resolved_date": "2025-01-12"}, False),
    ("adverse_events.resolved_date.after_onset", "adverse_events", 0,
     {"onset_date": "2025-01-12", "resolved_date": "2025-01-11"}, True),
    # term <= 200 characters; meddra_code 8 digits
    ("adverse_events.term.length", "adverse_events", 0, {"term": "x" * 200}, False),
    ("adverse_events.term.length", "adverse_events", 0, {"term": "x" * 201}, True),
    ("adverse_events.meddra_code.format", "adverse_events", 0, {"meddra_code": "10013573"}, False),
    ("adverse_events.meddra_code.format", "adverse_events", 0, {"meddra_code": "1001357"}, True),
    ("adverse_events.meddra_code.format", "adverse_events", 0, {"meddra_code": "100135730"}, True),

    # labs: ALT or AST >= 3 x ULN (ULN 40: 120 is exactly 3 x)
    ("labs.value.hepatic_3x_uln", "labs", 0, {"value": "119.9"}, False),
    ("labs.value.hepatic_3x_uln", "labs", 0, {"value": "120"}, True),
    ("labs.value.hepatic_3x_uln", "labs", 0, {"test": "AST", "value": "119.9"}, False),
    ("labs.value.hepatic_3x_uln", "labs", 0, {"test": "AST", "value": "120"}, True),
    ("labs.value.hepatic_3x_uln", "labs", 0, {"test": "ALP", "value": "400"}, False),
    # value >= 0; uln > 0
    ("labs.value.non_negative", "labs", 0, {"value": "0"}, False),
    ("labs.value.non_negative", "labs", 0, {"value": "-0.1"}, True),
    ("labs.uln.positive", "labs", 0, {"uln": "0.1"}, False),
    ("labs.uln.positive", "labs", 0, {"uln": "0"}, True),
    ("labs.collected_on.not_future", "labs", 0, {"collected_on": "2025-01-31"}, False),
    ("labs.collected_on.not_future", "labs", 0, {"collected_on": "2025-02-01"}, True),
]

# Each instrument's total at both ends of its range and one past each end (assessments row 2).
for _inst, (_low, _high) in CONTRACT_TOTALS.items():
    for _score, _fires in ((_low, False), (_high, False), (_high + 1, True), (_low - 1, True)):
        EDGES.append(("assessments.total_score.range", "assessments", 2,
                      {"instrument": _inst, "total_score": str(_score)}, _fires))

# Item scores, per instrument: the highest item value passes (total = their sum), one more or a
# negative item breaks the format rule, and so does one item too many.
for _inst, (_n, _top) in CONTRACT_ITEMS.items():
    EDGES += [
        ("assessments.item_scores.format", "assessments", 2,
         {"instrument": _inst, "item_scores": _items(_n, _top), "total_score": str(_top)}, False),
        ("assessments.item_scores.sum", "assessments", 2,
         {"instrument": _inst, "item_scores": _items(_n, _top), "total_score": str(_top)}, False),
        ("assessments.item_scores.format", "assessments", 2,
         {"instrument": _inst, "item_scores": _items(_n, _top + 1), "total_score": str(_top)}, True),
        ("assessments.item_scores.format", "assessments", 2,
         {"instrument": _inst, "item_scores": _items(_n, -1, 1), "total_score": str(_n - 2)}, True),
    ]
    if _n > 1:
        EDGES.append(("assessments.item_scores.format", "assessments", 2,
                      {"instrument": _inst, "item_scores": _items(_n + 1, 0), "total_score": "0"}, True))
        EDGES.append(("assessments.item_scores.sum", "assessments", 2,
                      {"instrument": _inst, "item_scores": _items(_n, 1, 1), "total_score": str(_n + 1)}, True))
        # incomplete (an item blank, or one item short): loaded with a warning, its sum not checked
        # (the contract checks the sum "when complete")
        _blank = ";".join(["1"] * (_n - 1) + [""])
        EDGES += [
            ("assessments.item_scores.incomplete", "assessments", 2,
             {"instrument": _inst, "item_scores": _items(_n, 0), "total_score": "0"}, False),
            ("assessments.item_scores.incomplete", "assessments", 2,
             {"instrument": _inst, "item_scores": _blank, "total_score": "0"}, True),
            ("assessments.item_scores.format", "assessments", 2,
             {"instrument": _inst, "item_scores": _blank, "total_score": "0"}, False),
            ("assessments.item_scores.sum", "assessments", 2,
             {"instrument": _inst, "item_scores": _blank, "total_score": "0"}, False),
            ("assessments.item_scores.incomplete", "assessments", 2,
             {"instrument": _inst, "item_scores": _items(_n - 1, 0), "total_score": "0"}, True),
            ("assessments.item_scores.format", "assessments", 2,
             {"instrument": _inst, "item_scores": _items(_n - 1, 0), "total_score": "0"}, False),
        ]

# QIDS-SR16: total = max(q1..q4) + q5 + max(q6..q9) + q10..q14 + max(q15, q16) (clinical reference
# 1.2). Each case passes only when its domain is scored by its maximum, and its plain sum fails.
QIDS = [
    # (items q1..q16, total by domain maxima, plain sum)
    ("1;2;3;0;0;0;0;0;0;0;0;0;0;0;0;0", 3, 6),      # sleep: max(1, 2, 3, 0)
    ("0;0;0;0;0;2;1;0;2;0;0;0;0;0;0;0", 2, 5),      # appetite / weight: max(2, 1, 0, 2)
    ("0;0;0;0;0;0;0;0;0;0;0;0;0;0;1;3", 3, 4),      # psychomotor: max(1, 3)
    ("0;0;0;0;1;0;0;0;0;1;1;1;1;1;0;0", 6, 6),      # single-item domains add up
    ("3;3;3;3;3;3;3;3;3;3;3;3;3;3;3;3", 27, 48),    # the top of the range
]
for _items_text, _domains, _plain in QIDS:
    EDGES.append(("assessments.item_scores.sum", "assessments", 2,
                  {"instrument": "QIDS_SR16", "item_scores": _items_text, "total_score": str(_domains)}, False))
    if _plain != _domains:
        EDGES.append(("assessments.item_scores.sum", "assessments", 2,
                      {"instrument": "QIDS_SR16", "item_scores": _items_text, "total_score": str(_plain)}, True))

KEY_COLUMN = {"patients": "patient_id", "sessions": "session_id", "assessments": "assessment_id",
              "adverse_events": "ae_id", "labs": "lab_id"}


def edge_batch(table: str, cases: list[tuple[str, str, int, dict, bool]]) -> tuple[dict, list[int]]:
    """The base export with one appended row per case (a fresh record key; vitals a fresh
    minutes_after_dose unless the case sets it); returns the tables and each case's line."""
    tables = base_tables()
    rows = tables[table]
    lines = []
    for n, (_, _, index, edits, _) in enumerate(cases):
        row = dict(rows[index])
        key = KEY_COLUMN.get(table)
        if key and key not in edits:
            row[key] = f"{row[key]}-edge{n}"
        if table == "vitals":
            row["minutes_after_dose"] = str(200 + n)
        row.update(edits)
        rows.append(row)
        lines.append(len(rows) + 1)  # the header is line 1
    return tables, lines


def test_contract_instruments_are_the_catalogues():
    assert set(INSTRUMENT_RANGES) == set(CONTRACT_TOTALS) == set(CONTRACT_ITEMS)


def misses(tmp_path, table: str, cases: list) -> list[str]:
    """Validate one export holding every case of table; the cases whose rule did not do as expected."""
    tables, lines = edge_batch(table, cases)
    ws, _, _ = run_validation(tmp_path, tables)
    found = violations(ws)
    return [f"{rule} {'did not fire' if fires else 'fired'} on line {line}: {edits}"
            for (rule, _, _, edits, fires), line in zip(cases, lines)
            if ((table, line, rule) in found) != fires]


@pytest.mark.parametrize("table", sorted({c[1] for c in EDGES}))
def test_rule_edges(tmp_path, table):
    problems = misses(tmp_path, table, [c for c in EDGES if c[1] == table])
    assert not problems, "\n".join(problems)


HAMD17_TOP = [4, 4, 4, 2, 2, 2, 4, 4, 4, 4, 4, 2, 2, 2, 4, 2, 2]  # written from the reference, not the SQL


def test_hamd17_items_of_0_to_2(tmp_path):
    """HAM-D17 (clinical reference 1.1-1.2): items 4-6 (insomnia early / middle / late), 12 (GI
    somatic), 13 (general somatic), 14 (genital), 16 (weight loss) and 17 (insight) are 0-2, the
    other nine 0-4 (9 x 4 + 8 x 2 = 52). Every item at its top passes; one more on any item fails."""
    def items(values):
        return {"instrument": "HAMD17", "item_scores": ";".join(map(str, values)), "total_score": str(sum(values))}
    cases = [("assessments.item_scores.format", "assessments", 2, items(HAMD17_TOP), False)]
    for j in range(17):
        over = list(HAMD17_TOP)
        over[j] += 1
        cases.append(("assessments.item_scores.format", "assessments", 2, items(over), True))
    assert misses(tmp_path, "assessments", cases) == []


def test_item_scores_are_whole_numbers(tmp_path):
    """An item must be an integer (contract S2): DuckDB's cast alone takes '1.5' as 2, '1e0' as 1."""
    cases = [("assessments.item_scores.format", "assessments", 2,
              {"instrument": "PHQ9", "item_scores": f"{bad};0;0;0;0;0;0;0;0", "total_score": "2"}, True)
             for bad in ("1.5", "2.0", "1e0", "0x2", "2_0", "two")]
    cases.append(("assessments.item_scores.format", "assessments", 2,
                  {"instrument": "PHQ9", "item_scores": " 2; 0;0;0;0;0;0;0;0 ", "total_score": "2"}, False))
    assert misses(tmp_path, "assessments", cases) == []
