"""The canonical tables of the export contract (section 3), as data.

Every adapter produces these tables with these column names; the reader keeps only these columns
(an allow-list), so a column the contract does not name, identifiers included, never gets past the
read step.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type the raw text is cast to: VARCHAR, INTEGER, DOUBLE, DATE, TIMESTAMPTZ, FLAG
    required: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]  # identifies a record within a registry (patient_id becomes patient_key)
    alternatives: tuple[tuple[str, ...], ...] = field(default=())  # e.g. birth_date or birth_year

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _cols(spec: str) -> tuple[Column, ...]:
    """Parse 'name:TYPE[!]' lines (! = required) so the tables below read like the contract."""
    out = []
    for item in spec.split():
        name, typ = item.split(":")
        out.append(Column(name, typ.rstrip("!"), typ.endswith("!")))
    return tuple(out)


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "patients",
            _cols(
                "patient_id:VARCHAR! birth_date:DATE birth_year:INTEGER sex:VARCHAR zip:VARCHAR "
                "enrolled_on:DATE! site_id:VARCHAR trd_failed_trials:INTEGER diagnosis_icd10:VARCHAR"
            ),
            key=("patient_key",),
        ),
        Table(
            "sessions",
            _cols(
                "session_id:VARCHAR! patient_id:VARCHAR! session_start:TIMESTAMPTZ! drug:VARCHAR! "
                "route:VARCHAR! dose_mg:DOUBLE dose_mg_per_kg:DOUBLE weight_kg:DOUBLE "
                "infusion_minutes:INTEGER devices:INTEGER setting:VARCHAR monitoring_minutes:INTEGER"
            ),
            key=("session_id",),
        ),
        Table(
            "vitals",
            _cols(
                "session_id:VARCHAR! timepoint:VARCHAR! minutes_after_dose:INTEGER sbp:INTEGER "
                "dbp:INTEGER heart_rate:INTEGER spo2:INTEGER"
            ),
            key=("session_id", "timepoint", "minutes_after_dose"),
        ),
        Table(
            "assessments",
            _cols(
                "assessment_id:VARCHAR! patient_id:VARCHAR! session_id:VARCHAR assessed_at:TIMESTAMPTZ! "
                "instrument:VARCHAR! total_score:INTEGER! item_scores:VARCHAR minutes_after_dose:INTEGER"
            ),
            key=("assessment_id",),
        ),
        Table(
            "adverse_events",
            _cols(
                "ae_id:VARCHAR! patient_id:VARCHAR! session_id:VARCHAR onset_date:DATE! term:VARCHAR! "
                "meddra_pt:VARCHAR meddra_code:VARCHAR severity:VARCHAR serious:FLAG death:FLAG "
                "life_threatening:FLAG hospitalization:FLAG disability:FLAG congenital_anomaly:FLAG "
                "medically_important:FLAG related:VARCHAR outcome:VARCHAR resolved_date:DATE"
            ),
            key=("ae_id",),
        ),
        Table(
            "labs",
            _cols(
                "lab_id:VARCHAR! patient_id:VARCHAR! collected_on:DATE! test:VARCHAR! value:DOUBLE "
                "unit:VARCHAR uln:DOUBLE"
            ),
            key=("lab_id",),
        ),
    ]
}

# Load order: parents before children, so orphan checks can see this export's parents.
TABLE_ORDER = ["patients", "sessions", "vitals", "assessments", "adverse_events", "labs"]

SAE_CRITERIA = (
    "death",
    "life_threatening",
    "hospitalization",
    "disability",
    "congenital_anomaly",
    "medically_important",
)

# HIPAA Safe Harbor identifiers (45 CFR 164.514(b)(2)) as column-name patterns. Any column the
# contract does not name is dropped anyway; these names are *reported* as identifiers dropped so a
# registry learns it is sending data it should not.
_IDENTIFIER_PATTERNS = [
    r"(first|last|middle|given|family|maiden|full|patient|mother'?s?)_?name",
    r"^name$",
    r"^(first|last|prefix|suffix|maiden)$",
    r"ssn|social_?security",
    r"^(mrn|medical_record(_number)?)$",
    r"phone|mobile|telephone|^tel$|fax",
    r"e_?mail",
    r"address|street|^addr",
    r"^city$|^county$|^town$",
    r"^(zip|postal)_?(code)?5?$|^zip_?full$",
    r"^(lat|lon|lng|latitude|longitude)$",
    r"driver|licen[cs]e|passport",
    r"health_?plan|insurance|member_?id|beneficiary",
    r"account",
    r"serial|device_?id|lot_?number",
    r"^url$|website",
    r"^ip(_address)?$",
    r"birth_?place|birthplace",
    r"photo|biometric|fingerprint",
]
_IDENTIFIER_RE = re.compile("|".join(f"(?:{p})" for p in _IDENTIFIER_PATTERNS), re.IGNORECASE)


def is_identifier_column(name: str) -> bool:
    """True for column names that look like a Safe-Harbor direct identifier."""
    return bool(_IDENTIFIER_RE.search(normalise_column_name(name)))


def normalise_column_name(name: str) -> str:
    """Contract: header names are case-insensitive and surrounding spaces are ignored."""
    return name.strip().lower().lstrip("\ufeff").strip()
