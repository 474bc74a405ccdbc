"""Test helpers: read an export series back, and a small reference validator.

The validator re-implements the error-level rules listed for the pipeline (row-local ones plus
the cross-row ones that need earlier rows: unique, exists, first session, enrolment), and a few
more of the pipeline's error rules that the generator must not break by accident, so that the
tests can say "this line breaks exactly its recorded rule, and every other line breaks none".
Id uniqueness flags the second occurrence (as the log records it); the vitals key
(session_id, timepoint, minutes_after_dose) flags every occurrence, as the pipeline does.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq

from synth.schema import COLUMNS, INSTRUMENT_MAX, SAE_CRITERIA, TABLES


def manifests(out: Path) -> list[dict]:
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    return [json.loads((f / "manifest.json").read_text()) | {"_folder": f} for f in folders]


def read_lines(path: Path) -> list[tuple[int, list[str]]]:
    """(source_row, fields) of every data line, as the pipeline numbers them: CSV line (header is
    line 1); Parquet record number (first record = 1)."""
    if path.suffix == ".parquet":
        t = pq.read_table(path)
        return [(i + 1, ["" if v is None else v for v in row.values()]) for i, row in enumerate(t.to_pylist())]
    raw = path.read_bytes()
    if path.name.endswith(".gz"):
        raw = gzip.decompress(raw)
    text = raw.decode("utf-8")
    out = []
    for n, line in enumerate(text.split("\n")[1:-1], start=2):
        out.append((n, next(csv.reader(io.StringIO(line)))))
    return out


def read_rows(path: Path, table: str) -> list[dict]:
    cols = COLUMNS[table]
    return [dict(zip(cols, f), _line=n) for n, f in read_lines(path) if len(f) == len(cols)]


def injected(out: Path) -> dict[tuple[str, str, int], str]:
    recs = [json.loads(l) for l in (out / "_injected.jsonl").read_text().splitlines() if l]
    return {(r["export_id"], r["table"], r["line"]): r["rule"] for r in recs}


# ---- reference validator --------------------------------------------------------------------

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")


def _date(s):
    if not s or not _DATE.fullmatch(s):
        return None
    try:
        return date.fromisoformat(s)
    except ValueError:
        return None


def _dt(s):
    if not s or not _DT.fullmatch(s):
        return None
    try:
        return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return None


def _int(s):
    try:
        return int(s) if s not in ("", None) and re.fullmatch(r"-?\d+", s) else None
    except ValueError:
        return None


def _num(s):
    try:
        return float(s) if s not in ("", None) else None
    except ValueError:
        return None


class Validator:
    """Registry state across exports (only rows without errors are 'loaded')."""

    def __init__(self):
        self.patients: dict[str, date] = {}          # id -> enrolled_on
        self.sessions: set[str] = set()
        self.first_session: dict[str, date] = {}

    def check_export(self, manifest: dict) -> dict[tuple[str, int], set[str]]:
        """Violations per (table, line) of one export, loading its valid rows."""
        at = datetime.strptime(manifest["exported_at"], "%Y-%m-%dT%H:%M:%SZ")
        out = {}
        for f in manifest["files"]:
            table, seen = f["table"], set()
            lines = read_lines(manifest["_folder"] / f["path"])
            if table == "vitals":
                keys = Counter(tuple(x[:3]) for _, x in lines if len(x) == len(COLUMNS[table]) and x[0] and x[1])
                seen = {k for k, c in keys.items() if c > 1}
            for line, fields in lines:
                if len(fields) != len(COLUMNS[table]):
                    out[(table, line)] = {f"{table}.row.malformed"}
                    continue
                row = dict(zip(COLUMNS[table], fields))
                v = getattr(self, "_" + table)(row, at, seen)
                out[(table, line)] = v
                if not v:
                    self._load(table, row)
        return out

    def _load(self, table, row):
        if table == "patients":
            self.patients[row["patient_id"]] = date.fromisoformat(row["enrolled_on"])
        elif table == "sessions":
            self.sessions.add(row["session_id"])
            d = _dt(row["session_start"]).date()
            p = row["patient_id"]
            self.first_session[p] = min(d, self.first_session.get(p, d))

    @staticmethod
    def _unique(v, table, col, row, seen, required=False):
        key = row[col]
        if not key:
            if required:
                v.add(f"{table}.{col}.required")
            return
        if key in seen:
            v.add(f"{table}.{col}.unique")
        seen.add(key)

    def _patients(self, r, at, seen):
        v = set()
        self._unique(v, "patients", "patient_id", r, seen, required=True)
        if r["birth_date"] and not _date(r["birth_date"]):
            v.add("patients.birth_date.type")
        if r["sex"] and r["sex"] not in ("F", "M", "X", "U"):
            v.add("patients.sex.code")
        if not r["enrolled_on"]:
            v.add("patients.enrolled_on.required")
        elif not _date(r["enrolled_on"]):
            v.add("patients.enrolled_on.type")
        elif _date(r["enrolled_on"]) > at.date():
            v.add("patients.enrolled_on.not_future")
        elif _date(r["birth_date"]) and _date(r["birth_date"]) > _date(r["enrolled_on"]):
            v.add("patients.enrolled_on.after_birth")
        t = _int(r["trd_failed_trials"])
        if r["trd_failed_trials"] and (t is None or not 0 <= t <= 30):
            v.add("patients.trd_failed_trials.range")
        return v

    def _sessions(self, r, at, seen):
        v = set()
        self._unique(v, "sessions", "session_id", r, seen, required=True)
        if r["patient_id"] not in self.patients:
            v.add("sessions.patient_id.exists")
        start = _dt(r["session_start"])
        if start is None:
            v.add("sessions.session_start.type")
        else:
            if start > at:
                v.add("sessions.session_start.not_future")
            enrolled = self.patients.get(r["patient_id"])
            if enrolled and start.date() < enrolled - timedelta(days=30):
                v.add("sessions.session_start.after_enrolment")
        drug, route = r["drug"], r["route"]
        if drug not in ("esketamine", "ketamine", "arketamine", "other"):
            v.add("sessions.drug.code")
        if route not in ("intranasal", "iv", "im", "oral", "sublingual", "subcutaneous"):
            v.add("sessions.route.code")
        elif drug == "esketamine" and route != "intranasal":
            v.add("sessions.route.esketamine_intranasal")
        dose, mgkg, weight = _num(r["dose_mg"]), _num(r["dose_mg_per_kg"]), _num(r["weight_kg"])
        if dose is not None and dose <= 0:
            v.add("sessions.dose_mg.positive")
        if drug == "esketamine" and dose is not None and dose > 0 and dose not in (28, 56, 84):
            v.add("sessions.dose_mg.esketamine_strength")
        if drug == "ketamine" and route == "iv" and mgkg is not None and mgkg > 4.5:
            v.add("sessions.dose_mg_per_kg.iv_max")
        if weight is not None and not 30 <= weight <= 300:
            v.add("sessions.weight_kg.range")
        if mgkg is not None and weight is None:
            v.add("sessions.weight_kg.required_for_mg_per_kg")
        if drug == "esketamine" and r["devices"] and dose in (28, 56, 84) and _int(r["devices"]) != dose / 28:
            v.add("sessions.devices.esketamine_devices")
        if drug == "esketamine" and _int(r["devices"]) is not None and not 1 <= _int(r["devices"]) <= 3:
            v.add("sessions.devices.esketamine_range")
        if r["setting"] and r["setting"] not in ("clinic", "inpatient", "emergency", "home"):
            v.add("sessions.setting.code")
        for c in ("dose_mg", "dose_mg_per_kg", "weight_kg"):
            if r[c] and _num(r[c]) is None:
                v.add(f"sessions.{c}.type")
        for c in ("infusion_minutes", "devices", "monitoring_minutes"):
            if r[c] and _int(r[c]) is None:
                v.add(f"sessions.{c}.type")
        if _int(r["monitoring_minutes"]) is not None and not 0 <= _int(r["monitoring_minutes"]) <= 1440:
            v.add("sessions.monitoring_minutes.range")
        return v

    def _vitals(self, r, at, seen):
        v = set()
        if r["session_id"] not in self.sessions:
            v.add("vitals.session_id.exists")
        if r["timepoint"] not in ("pre", "post40", "discharge", "other"):
            v.add("vitals.timepoint.code")
        if (r["session_id"], r["timepoint"], r["minutes_after_dose"]) in seen:
            v.add("vitals.timepoint.unique")
        m = _int(r["minutes_after_dose"])
        if r["minutes_after_dose"] and (m is None or not 0 <= m <= 1440):
            v.add("vitals.minutes_after_dose.range")
        s, d, hr, o2 = (_int(r[c]) for c in ("sbp", "dbp", "heart_rate", "spo2"))
        if s is not None and not 50 <= s <= 300:
            v.add("vitals.sbp.range")
        if d is not None and not 20 <= d <= 160:
            v.add("vitals.dbp.range")
        if s is not None and d is not None and s <= d:
            v.add("vitals.sbp.above_dbp")
        if hr is not None and not 25 <= hr <= 250:
            v.add("vitals.heart_rate.range")
        if o2 is not None and not 50 <= o2 <= 100:
            v.add("vitals.spo2.range")
        return v

    def _assessments(self, r, at, seen):
        v = set()
        self._unique(v, "assessments", "assessment_id", r, seen)
        if r["patient_id"] not in self.patients:
            v.add("assessments.patient_id.exists")
        t = _dt(r["assessed_at"])
        if t is None:
            v.add("assessments.assessed_at.type")
        elif t > at:
            v.add("assessments.assessed_at.not_future")
        inst = r["instrument"]
        if inst not in INSTRUMENT_MAX:
            v.add("assessments.instrument.code")
        total = _int(r["total_score"])
        if total is None:
            v.add("assessments.total_score.type")
        elif inst in INSTRUMENT_MAX and not 0 <= total <= INSTRUMENT_MAX[inst]:
            v.add("assessments.total_score.range")
        if inst in ("CADSS", "MOAAS") and not r["session_id"]:
            v.add("assessments.session_id.peri_dose")
        if inst in ("CADSS", "MOAAS") and not r["minutes_after_dose"]:
            v.add("assessments.minutes_after_dose.peri_dose")
        if r["item_scores"]:
            items = [_int(x) for x in r["item_scores"].split(";")]
            if any(x is None for x in items):
                v.add("assessments.item_scores.format")
            elif total is not None and inst in ("PHQ9", "GAD7", "MADRS", "QIDS_SR16"):
                if inst == "QIDS_SR16" and len(items) == 16:
                    s = max(items[0:4]) + items[4] + max(items[5:9]) + sum(items[9:14]) + max(items[14:16])
                else:
                    s = sum(items)
                if len(items) == {"PHQ9": 9, "GAD7": 7, "MADRS": 10, "QIDS_SR16": 16}[inst] and s != total:
                    v.add("assessments.item_scores.sum")
        return v

    def _adverse_events(self, r, at, seen):
        v = set()
        self._unique(v, "adverse_events", "ae_id", r, seen)
        if r["patient_id"] not in self.patients:
            v.add("adverse_events.patient_id.exists")
        onset = _date(r["onset_date"])
        first = self.first_session.get(r["patient_id"])
        if onset and first and onset < first - timedelta(days=1):
            v.add("adverse_events.onset_date.after_first_session")
        if len(r["term"]) > 200:
            v.add("adverse_events.term.length")
        if r["meddra_code"] and not re.fullmatch(r"\d{8}", r["meddra_code"]):
            v.add("adverse_events.meddra_code.format")
        if r["severity"] and r["severity"] not in ("mild", "moderate", "severe"):
            v.add("adverse_events.severity.code")
        if r["serious"] == "0" and any(r[c] == "1" for c in SAE_CRITERIA):
            v.add("adverse_events.serious.criteria")
        if any(r[c] not in ("0", "1", "") for c in ("serious", *SAE_CRITERIA)):
            v.add("adverse_events.serious.type")
        if r["related"] not in ("", "unrelated", "unlikely", "possible", "probable", "definite"):
            v.add("adverse_events.related.code")
        if r["outcome"] not in ("", "recovered", "recovering", "not_recovered", "recovered_with_sequelae",
                                "fatal", "unknown"):
            v.add("adverse_events.outcome.code")
        if onset is None:
            v.add("adverse_events.onset_date.type")
        elif onset > at.date():
            v.add("adverse_events.onset_date.not_future")
        res = _date(r["resolved_date"])
        if res and onset and res < onset:
            v.add("adverse_events.resolved_date.after_onset")
        return v

    def _labs(self, r, at, seen):
        v = set()
        self._unique(v, "labs", "lab_id", r, seen, required=True)
        if r["patient_id"] not in self.patients:
            v.add("labs.patient_id.exists")
        val = _num(r["value"])
        if val is not None and val < 0:
            v.add("labs.value.non_negative")
        if not _date(r["collected_on"]):
            v.add("labs.collected_on.type")
        elif _date(r["collected_on"]) > at.date():
            v.add("labs.collected_on.not_future")
        return v


def all_rows(out: Path, table: str, export_index: int = -1) -> list[dict]:
    m = manifests(out)[export_index]
    f = next(f for f in m["files"] if f["table"] == table)
    return read_rows(m["_folder"] / f["path"], table)


__all__ = ["manifests", "read_lines", "read_rows", "injected", "Validator", "all_rows", "TABLES"]
