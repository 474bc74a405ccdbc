"""Tables and columns of the export contract (export-contract.md §3), in file order."""
from __future__ import annotations

CONTRACT = "ketamine-outcomes-export/1"

# Direct identifiers a real export may carry and the pipeline must drop (contract §5).
IDENTIFIER_COLUMNS = ("first_name", "last_name", "ssn", "phone", "email", "street_address")

SAE_CRITERIA = ("death", "life_threatening", "hospitalization", "disability",
                "congenital_anomaly", "medically_important")

COLUMNS: dict[str, tuple[str, ...]] = {
    "patients": ("patient_id", *IDENTIFIER_COLUMNS, "birth_date", "sex", "zip", "enrolled_on",
                 "site_id", "trd_failed_trials", "diagnosis_icd10"),
    "sessions": ("session_id", "patient_id", "session_start", "drug", "route", "dose_mg",
                 "dose_mg_per_kg", "weight_kg", "infusion_minutes", "devices", "setting",
                 "monitoring_minutes"),
    "vitals": ("session_id", "timepoint", "minutes_after_dose", "sbp", "dbp", "heart_rate", "spo2"),
    "assessments": ("assessment_id", "patient_id", "session_id", "assessed_at", "instrument",
                    "total_score", "item_scores", "minutes_after_dose"),
    "adverse_events": ("ae_id", "patient_id", "session_id", "onset_date", "term", "meddra_pt",
                       "meddra_code", "severity", "serious", *SAE_CRITERIA, "related", "outcome",
                       "resolved_date"),
    "labs": ("lab_id", "patient_id", "collected_on", "test", "value", "unit", "uln"),
}
TABLES = tuple(COLUMNS)

# Free-text columns, the only ones that may hold a comma or a quote (and so need CSV quoting).
TEXT_COLUMNS: dict[str, frozenset[str]] = {
    "patients": frozenset({"first_name", "last_name", "street_address"}),
    "adverse_events": frozenset({"term", "meddra_pt"}),
}

INSTRUMENT_MAX = {"PHQ9": 27, "GAD7": 21, "MADRS": 60, "QIDS_SR16": 27, "HAMD17": 52,
                  "CADSS": 92, "MOAAS": 5, "CSSRS_IDEATION": 5}

FILE_FORMATS = {"csv": ".csv", "csv.gz": ".csv.gz", "parquet": ".parquet"}
