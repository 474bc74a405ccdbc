"""Bad rows for `--bad-rows`: error-level rules of the pipeline (each row is quarantined), each recorded by line.

Design (why it is safe for the rest of the data):
- Bad rows are ADDED next to a real row they copy, never put in its place, so no real record
  goes missing from an export (a full export would otherwise look like a withdrawal) and no
  real child row loses its parent. A copy gets a fresh id nobody references (a patient copy is
  a patient with no other rows), then one value is broken.
- `*.unique` rules add a PAIR: a valid fresh-id copy and, right after it, the same row again;
  the second occurrence is recorded as `line`, the first as `first_line`. The pipeline flags
  every occurrence of a duplicated key, so the first one must not be a real record either.
- Each rule breaks only its own rule where the contract allows it (e.g. a session copy moves
  one day earlier so that it never shares a calendar day with a real session; a vitals copy is
  an extra `other` time point with minutes no other row of that session has, since the
  pipeline's key is (session_id, timepoint, minutes_after_dose); an out-of-range total clears
  item_scores so that the item sum rule does not fire as well).
- About `fraction / (1 - fraction)` copies per real row are added, so roughly `fraction` of each
  table's rows in each file are bad. Rules rotate per table over the whole run, skipping a rule
  when the rows at hand have no suitable original, so a run with enough rows has every rule.
- `<table>.row.malformed` (too many or too few fields) only exists for CSV formats.
The sidecar `_injected.jsonl` gets {"export_id", "table", "line", "rule"} per bad row, line
being the pipeline's source_row for it: the CSV line (header = 1) or the Parquet record number
(first record = 1), so (table, line, rule) is a row of ops.quarantine.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import ids, render
from .schema import COLUMNS, INSTRUMENT_MAX
from .timeline import Export, from_day_number

Row = dict  # column -> str | None


@dataclass
class Bad:
    after: int            # index (in the view) of the row it follows
    payload: Row | str    # a row, or a raw CSV line without its newline (malformed)
    rule: str
    companion: Row | None = None  # unique rules: the first occurrence, placed right before


class Context:
    """What a rule may consult while making one bad row."""

    def __init__(self, rng, export: Export, chunk, counters: dict):
        self.rng, self.export, self.chunk, self._counters = rng, export, chunk, counters
        self._per_session: dict[str, int] = {}

    def minutes_for(self, session_id: str) -> int:
        """60, 65, 70 ... per session within this call: a fresh vitals key for each copy."""
        n = self._per_session.get(session_id, 0)
        self._per_session[session_id] = n + 1
        return 60 + 5 * n

    def _next(self, key: str) -> int:
        self._counters[key] = self._counters.get(key, 0) + 1
        return self._counters[key]

    def choice(self, options):
        return options[int(self.rng.integers(0, len(options)))]

    def fresh_id(self, table: str) -> str:
        return ids.injected_record_id(table, self._next(table))

    def fresh_patient(self) -> str:
        return ids.injected_patient_id(self._next("patients"))

    def unknown_patient(self) -> str:
        return ids.unknown_patient_id(self._next("unknown_patient"))

    def after_export(self) -> datetime:
        return self.export.exported_at + timedelta(days=int(self.rng.integers(1, 61)), hours=-6)

    def enrolled_on(self, patient_id: str) -> date:
        return from_day_number(self.chunk.enrolled_day[patient_id])

    def first_session(self, patient_id: str) -> date:
        return from_day_number(self.chunk.first_session_day[patient_id])


def _iso_dt(d: datetime) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def _shift_day(ts: str, days: int) -> str:
    return _iso_dt(datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ") + timedelta(days=days))


# ---- candidate filters (over the view's string columns) ---------------------------------------

def _eq(col, value) -> Callable[[pa.Table], np.ndarray]:
    return lambda t: np.asarray(pc.fill_null(pc.equal(t[col], value), False))


def _present(col) -> Callable[[pa.Table], np.ndarray]:
    return lambda t: np.asarray(pc.is_valid(t[col]))


def _absent(col) -> Callable[[pa.Table], np.ndarray]:
    return lambda t: np.asarray(pc.is_null(t[col]))


def _all(*preds) -> Callable[[pa.Table], np.ndarray]:
    return lambda t: np.logical_and.reduce([p(t) for p in preds])


@dataclass(frozen=True)
class Rule:
    id: str
    make: Callable[[Row, Context], Row | str]
    pick: Callable[[pa.Table], np.ndarray] | None = None
    csv_only: bool = False


def _set(**values):
    """A maker that sets columns; a callable value is called with (row, ctx)."""
    def make(row: Row, ctx: Context) -> Row:
        for k, v in values.items():
            row[k] = v(row, ctx) if callable(v) else v
        return row
    return make


def _one_of(*options):
    return lambda row, ctx: ctx.choice(options)


def _fresh(table: str, id_col: str, then=None, shift=False):
    """Copy with a new id (and a session one day earlier), then apply `then`."""
    def make(row: Row, ctx: Context):
        row[id_col] = ctx.fresh_patient() if table == "patients" else ctx.fresh_id(table)
        if shift:
            row["session_start"] = _shift_day(row["session_start"], -1)
        return then(row, ctx) if then else row
    return make


class _Pair:
    """Marker maker for unique rules: a fresh copy, then the same row again."""

    def __init__(self, table: str, id_col: str, shift: bool = False):
        self.fresh = _fresh(table, id_col, shift=shift)

    def __call__(self, row: Row, ctx: Context) -> tuple[Row, Row]:
        first = self.fresh(row, ctx)
        return first, dict(first)


def _malformed(table: str, id_col: str | None):
    def make(row: Row, ctx: Context) -> str:
        if id_col:
            row[id_col] = ctx.fresh_patient() if table == "patients" else ctx.fresh_id(table)
        fields = [row[c] for c in COLUMNS[table]]
        fields = fields[:-1] if ctx.rng.random() < 0.5 else fields + ["unexpected"]
        return render.format_row(fields).rstrip("\n")
    return make


# ---- the rules ------------------------------------------------------------------------------

def _bad_items_sum(row: Row, ctx: Context) -> Row:
    items = row["item_scores"].split(";")
    cap = {"PHQ9": 3, "GAD7": 3, "MADRS": 6, "QIDS_SR16": 3}[row["instrument"]]
    i = 4 if row["instrument"] == "QIDS_SR16" else 0      # QIDS q5 is a domain of its own
    v = int(items[i])
    items[i] = str(v + 1 if v < cap else v - 1)
    row["item_scores"] = ";".join(items)
    return row


def _bad_items_format(row: Row, ctx: Context) -> Row:
    items = row["item_scores"].split(";")
    items[int(ctx.rng.integers(0, len(items)))] = ctx.choice(["x", "?", "two"])
    row["item_scores"] = ";".join(items)
    return row


def _out_of_range_total(row: Row, ctx: Context) -> Row:
    row["total_score"] = str(INSTRUMENT_MAX[row["instrument"]] + int(ctx.rng.integers(1, 11)))
    row["item_scores"] = None
    return row


def _iv_overdose(row: Row, ctx: Context) -> Row:
    mgkg = ctx.choice([5.0, 6.5, 10.0])
    row["dose_mg_per_kg"] = f"{mgkg:g}"
    row["dose_mg"] = f"{round(mgkg * float(row['weight_kg']), 1):g}"
    return row


def _wrong_devices(row: Row, ctx: Context) -> Row:
    n = int(float(row["dose_mg"])) // 28
    row["devices"] = str(n % 3 + 1)                          # 1-3, but not dose / 28
    return row


def _before_enrolment(row: Row, ctx: Context) -> Row:
    d = ctx.enrolled_on(row["patient_id"]) - timedelta(days=int(ctx.rng.integers(31, 121)))
    row["session_start"] = f"{d.isoformat()}T15:00:00Z"
    return row


def _sbp_not_above(row: Row, ctx: Context) -> Row:
    v = str(max(int(row["dbp"]), 60))
    row["sbp"] = row["dbp"] = v
    return row


def _onset_before_first_session(row: Row, ctx: Context) -> Row:
    d = ctx.first_session(row["patient_id"]) - timedelta(days=int(ctx.rng.integers(2, 61)))
    row["onset_date"] = d.isoformat()
    row["session_id"] = None
    return row


def _resolved_before_onset(row: Row, ctx: Context) -> Row:
    d = date.fromisoformat(row["onset_date"]) - timedelta(days=int(ctx.rng.integers(1, 11)))
    row["resolved_date"] = d.isoformat()
    return row


_FILLER = ("patient reports the symptom started shortly after the second spray, then persisted, "
           "described as intermittent and \"hard to put into words\"; seen by the nurse, vitals "
           "checked twice, advised rest and follow-up at the next visit; no other complaints. ")


def _long_term(row: Row, ctx: Context) -> Row:
    n = int(ctx.rng.integers(201, 261))
    row["term"] = (row["term"] + " - " + _FILLER * 2)[:n].rstrip().ljust(n, ".")
    return row


def _negative(row: Row, ctx: Context) -> Row:
    row["value"] = "-" + (row["value"] if row["value"] not in ("0", None) else "1")
    return row


def _future(col: str, kind: str):
    def make(row: Row, ctx: Context) -> Row:
        t = ctx.after_export()
        row[col] = t.date().isoformat() if kind == "date" else _iso_dt(t)
        return row
    return make


def _vitals_copy(then):
    """A vitals copy as an extra `other` time point with minutes no other row of the session has."""
    def make(row: Row, ctx: Context) -> Row:
        row["timepoint"], row["minutes_after_dose"] = "other", str(ctx.minutes_for(row["session_id"]))
        return then(row, ctx)
    return make


def _minutes_out_of_range(row: Row, ctx: Context) -> Row:
    m = int(row["minutes_after_dose"])                     # 60, 65, ... from _vitals_copy
    row["minutes_after_dose"] = str(1441 + m) if ctx.rng.random() < 0.7 else str(-m)
    return row


_ket = _eq("drug", "ketamine")
_esk = _eq("drug", "esketamine")
_no_session = _absent("session_id")

RULES: dict[str, list[Rule]] = {
    "patients": [
        Rule("patients.patient_id.required", _set(patient_id="")),
        Rule("patients.patient_id.unique", _Pair("patients", "patient_id")),
        Rule("patients.birth_date.type", _fresh("patients", "patient_id", _set(birth_date=_one_of("1984-02-30", "13/07/1984", "unknown")))),
        Rule("patients.sex.code", _fresh("patients", "patient_id", _set(sex=_one_of("W", "2", "Q")))),
        Rule("patients.enrolled_on.required", _fresh("patients", "patient_id", _set(enrolled_on=""))),
        Rule("patients.enrolled_on.type", _fresh("patients", "patient_id", _set(enrolled_on=_one_of("2025-02-30", "31/01/2025", "soon")))),
        Rule("patients.enrolled_on.not_future", _fresh("patients", "patient_id", _future("enrolled_on", "date"))),
        Rule("patients.trd_failed_trials.range", _fresh("patients", "patient_id", _set(trd_failed_trials=_one_of("31", "-1", "45")))),
        Rule("patients.row.malformed", _malformed("patients", "patient_id"), csv_only=True),
    ],
    "sessions": [
        Rule("sessions.session_id.required", _fresh("sessions", "session_id", _set(session_id=""), shift=True)),
        Rule("sessions.session_id.unique", _Pair("sessions", "session_id", shift=True)),
        Rule("sessions.patient_id.exists", _fresh("sessions", "session_id", _set(patient_id=lambda r, c: c.unknown_patient()), shift=True)),
        Rule("sessions.session_start.type", _fresh("sessions", "session_id", _set(session_start=_one_of("2025-02-30T15:00:00Z", "yesterday 3pm", "31/01/2025 15:00")))),
        Rule("sessions.session_start.not_future", _fresh("sessions", "session_id", _future("session_start", "datetime"))),
        Rule("sessions.session_start.after_enrolment", _fresh("sessions", "session_id", _before_enrolment)),
        Rule("sessions.drug.code", _fresh("sessions", "session_id", _set(drug=_one_of("ketamin", "spravato-x", "propofol")), shift=True), _ket),
        Rule("sessions.route.code", _fresh("sessions", "session_id", _set(route=_one_of("rectal", "inhaled", "transdermal")), shift=True), _ket),
        Rule("sessions.route.esketamine_intranasal", _fresh("sessions", "session_id", _set(route=_one_of("iv", "oral", "im")), shift=True), _esk),
        Rule("sessions.dose_mg.positive", _fresh("sessions", "session_id", _set(dose_mg=_one_of("0", "-35"), dose_mg_per_kg=None), shift=True), _ket),
        Rule("sessions.dose_mg.esketamine_strength", _fresh("sessions", "session_id", _set(dose_mg=_one_of("60", "42", "100"), devices=None), shift=True), _esk),
        Rule("sessions.dose_mg_per_kg.iv_max", _fresh("sessions", "session_id", _iv_overdose, shift=True),
             _all(_ket, _eq("route", "iv"), _present("weight_kg"))),
        Rule("sessions.weight_kg.range", _fresh("sessions", "session_id", _set(weight_kg=_one_of("25", "12.5", "350")), shift=True), _esk),
        Rule("sessions.weight_kg.required_for_mg_per_kg", _fresh("sessions", "session_id", _set(weight_kg=None), shift=True), _present("dose_mg_per_kg")),
        Rule("sessions.devices.esketamine_devices", _fresh("sessions", "session_id", _wrong_devices, shift=True), _esk),
        Rule("sessions.setting.code", _fresh("sessions", "session_id", _set(setting=_one_of("ambulance", "pharmacy", "school")), shift=True)),
        Rule("sessions.row.malformed", _malformed("sessions", "session_id"), csv_only=True),
    ],
    "vitals": [
        Rule("vitals.session_id.exists", _set(session_id=lambda r, c: c.fresh_id("sessions"))),
        Rule("vitals.timepoint.code", _vitals_copy(_set(timepoint=_one_of("during", "t+40", "peak")))),
        Rule("vitals.minutes_after_dose.range", _vitals_copy(_minutes_out_of_range)),
        # Readings no body or device gives, so that no alert fires on them. Too low a dbp is
        # negative, not above 160, which would break sbp.above_dbp as well.
        Rule("vitals.sbp.range", _vitals_copy(_set(sbp=_one_of("405", "450", "999")))),
        Rule("vitals.dbp.range", _vitals_copy(_set(dbp=_one_of("-4", "-10", "-60")))),
        Rule("vitals.sbp.above_dbp", _vitals_copy(_sbp_not_above)),
        Rule("vitals.heart_rate.range", _vitals_copy(_set(heart_rate=_one_of("401", "450", "-1")))),
        Rule("vitals.spo2.range", _vitals_copy(_set(spo2=_one_of("101", "105", "-1")))),
        Rule("vitals.row.malformed", _malformed("vitals", None), csv_only=True),
    ],
    "assessments": [
        Rule("assessments.assessment_id.unique", _Pair("assessments", "assessment_id")),
        Rule("assessments.patient_id.exists", _fresh("assessments", "assessment_id", _set(patient_id=lambda r, c: c.unknown_patient())), _no_session),
        Rule("assessments.assessed_at.type", _fresh("assessments", "assessment_id", _set(assessed_at=_one_of("2025-02-30T10:00:00Z", "last tuesday", "2025-01-15 25:61")))),
        Rule("assessments.assessed_at.not_future", _fresh("assessments", "assessment_id", _future("assessed_at", "datetime")), _no_session),
        Rule("assessments.instrument.code", _fresh("assessments", "assessment_id", _set(instrument=_one_of("BDI", "HADS", "EPDS"), item_scores=None))),
        Rule("assessments.total_score.range", _fresh("assessments", "assessment_id", _out_of_range_total)),
        Rule("assessments.total_score.type", _fresh("assessments", "assessment_id", _set(total_score=_one_of("12.5", "twelve", "1O"), item_scores=None))),
        Rule("assessments.item_scores.sum", _fresh("assessments", "assessment_id", _bad_items_sum), _present("item_scores")),
        Rule("assessments.item_scores.format", _fresh("assessments", "assessment_id", _bad_items_format), _present("item_scores")),
        Rule("assessments.row.malformed", _malformed("assessments", "assessment_id"), csv_only=True),
    ],
    "adverse_events": [
        Rule("adverse_events.ae_id.unique", _Pair("adverse_events", "ae_id")),
        Rule("adverse_events.patient_id.exists", _fresh("adverse_events", "ae_id", _set(patient_id=lambda r, c: c.unknown_patient(), session_id=None))),
        Rule("adverse_events.onset_date.after_first_session", _fresh("adverse_events", "ae_id", _onset_before_first_session)),
        Rule("adverse_events.term.length", _fresh("adverse_events", "ae_id", _long_term)),
        Rule("adverse_events.meddra_code.format", _fresh("adverse_events", "ae_id", _set(meddra_code=_one_of("1002881", "10O28813", "MD10028813")))),
        Rule("adverse_events.severity.code", _fresh("adverse_events", "ae_id", _set(severity=_one_of("extreme", "bad", "very")))),
        Rule("adverse_events.serious.criteria", _fresh("adverse_events", "ae_id", _set(hospitalization="1")), _eq("serious", "0")),
        Rule("adverse_events.resolved_date.after_onset", _fresh("adverse_events", "ae_id", _resolved_before_onset), _present("resolved_date")),
        Rule("adverse_events.row.malformed", _malformed("adverse_events", "ae_id"), csv_only=True),
    ],
    "labs": [
        Rule("labs.lab_id.required", _set(lab_id="")),
        Rule("labs.patient_id.exists", _fresh("labs", "lab_id", _set(patient_id=lambda r, c: c.unknown_patient()))),
        Rule("labs.value.non_negative", _fresh("labs", "lab_id", _negative)),
        Rule("labs.collected_on.type", _fresh("labs", "lab_id", _set(collected_on=_one_of("2025-02-30", "31/01/2025", "Jan 5")))),
        Rule("labs.row.malformed", _malformed("labs", "lab_id"), csv_only=True),
    ],
}


def rule_ids(file_format: str = "csv") -> list[str]:
    """Every rule the corrupter can inject for this file format."""
    return [r.id for rules in RULES.values() for r in rules if not (r.csv_only and file_format == "parquet")]


class Corrupter:
    """Chooses and makes the bad rows of one (export, table, chunk) piece of output."""

    def __init__(self, fraction: float, seed: int, file_format: str, malformed: bool | None = None):
        """malformed: also inject `<table>.row.malformed` lines (default: for CSV formats only;
        False for output converted to another format, which cannot carry a broken CSV line)."""
        if not 0.0 <= fraction < 0.5:
            raise ValueError("bad_rows must be in [0, 0.5)")
        self.rate = fraction / (1.0 - fraction)
        self.seed = seed
        if malformed is None:
            malformed = file_format != "parquet"
        self.rules = {t: [r for r in rs if malformed or not r.csv_only] for t, rs in RULES.items()}
        self.next_rule = {t: 0 for t in RULES}
        self.counters: dict[str, int] = {}

    def inject(self, table: str, view: pa.Table, export: Export, chunk, chunk_index: int) -> list[Bad]:
        n = view.num_rows
        if n == 0 or self.rate == 0:
            return []
        tidx = list(RULES).index(table)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, chunk_index, 7, export.index, tidx]))
        slots = int(rng.binomial(n, min(self.rate, 1.0)))
        if not slots:
            return []
        ctx = Context(rng, export, chunk, self.counters)
        rules = self.rules[table]
        masks: dict[str, np.ndarray | None] = {}
        chosen: list[tuple[Rule, int]] = []
        for _ in range(slots):
            for step in range(len(rules)):
                j = (self.next_rule[table] + step) % len(rules)
                rule = rules[j]
                if rule.id not in masks:
                    masks[rule.id] = None if rule.pick is None else np.flatnonzero(rule.pick(view))
                cand = masks[rule.id]
                if cand is not None and len(cand) == 0:
                    continue
                i = int(rng.integers(0, n)) if cand is None else int(cand[rng.integers(0, len(cand))])
                chosen.append((rule, i))
                self.next_rule[table] = (j + 1) % len(rules)
                break
        originals = view.take(pa.array([i for _, i in chosen], type=pa.int64())).to_pylist()
        out = []
        for (rule, i), row in zip(chosen, originals):
            made = rule.make(row, ctx)
            if isinstance(made, tuple):
                out.append(Bad(i, made[1], rule.id, companion=made[0]))
            else:
                out.append(Bad(i, made, rule.id))
        return out
