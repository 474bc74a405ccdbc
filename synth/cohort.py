"""The clinical model: one chunk of synthetic TRD patients and every record they produce.

`build_chunk` draws everything for a block of patients with vectorised numpy (one Generator per
chunk, so the output depends only on seed, chunk number and arguments) and returns each table
already rendered to Arrow strings, with, per row, the export that first carries it, the earlier
version an export before the correction shows, and whether the row is withdrawn at the end.

What the cohort does (figures from docs/clinical-reference.md, tags there):
- baseline PHQ-9 and MADRS (MADRS ~28-40) on the day of enrolment, the first session 0-13 days
  later; GAD-7, QIDS-SR16 and C-SSRS for subsets;
- intranasal esketamine (56 mg day 1, then 56/84 mg; devices = dose / 28; monitored >= 120 min in
  clinic) [R9], IV racemic ketamine (0.5 mg/kg over 40 min mostly) [R23][R24], a few IM and oral;
- induction twice weekly (6-8 sessions), weekly weeks 5-8, then weekly or every two weeks [R9];
  non-responders mostly stop after induction, others drop out at a constant hazard;
- response (>= 50 % reduction) early (day 1-7) or late (week 2-8) or never, relapse for some;
- vitals pre / 40 min / discharge with BP peaking at 40 min and rare surges [R4][R28]; CADSS
  peaking at 40 min [R12]; MOAA/S mostly 5 [R11];
- adverse events at per-patient incidences (TRANSFORM-1 [R15]), serious events, urinary terms,
  misuse terms, ALT/AST labs with a few >= 3 x ULN [R45].
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import ids
from . import render as R
from .params import AE_TERMS, ALT_INCREASED, ROUTES, SAE_TERMS, CohortParams
from .schema import COLUMNS, SAE_CRITERIA
from .timeline import DAY, Timeline

ESK, IV, IM, ORAL = range(4)
DRUG = ("esketamine", "ketamine", "ketamine", "ketamine")
ROUTE = ("intranasal", "iv", "im", "oral")
SETTINGS = ("clinic", "inpatient", "emergency", "home")
SEX = ("F", "M", "X", "U")
ICD10 = ("F33.2", "F32.2", "F33.1", "F32.1", "F33.9", "F32.9")
INSTRUMENTS = ("PHQ9", "GAD7", "MADRS", "QIDS_SR16", "CADSS", "MOAAS", "CSSRS_IDEATION")
PHQ9, GAD7, MADRS, QIDS, CADSS, MOAAS, CSSRS = range(7)
TIMEPOINTS = ("pre", "post40", "discharge")
SEVERITY = ("mild", "moderate", "severe")
RELATED = ("unrelated", "unlikely", "possible", "probable", "definite")
OUTCOME = ("recovered", "recovering", "not_recovered", "recovered_with_sequelae", "fatal", "unknown")
LAB_TESTS = ("ALT", "AST", "GGT")
LAB_ULN = (40, 35, 60)

FIRST_F = ("Maria", "Emily", "Sarah", "Jessica", "Ashley", "Laura", "Ana", "Grace", "Chloe", "Nadia",
           "Olivia", "Hannah", "Priya", "Mei", "Fatima", "Rosa", "Zoe", "Claire", "Leah", "Ines")
FIRST_M = ("James", "Michael", "David", "Daniel", "Jose", "Kevin", "Ahmed", "Luis", "Ryan", "Omar",
           "Noah", "Ethan", "Wei", "Raj", "Samuel", "Tomas", "Lucas", "Adam", "Ben", "Hugo")
LAST = ("Smith", "Johnson", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Nguyen", "Patel",
        "Kim", "O'Brien", "Murphy", "Cohen", "Rossi", "Schmidt", "Silva", "Khan", "Lopez", "Walker",
        "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter")
STREETS = ("Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main",
           "Sunset", "River", "Church", "Mill", "Spring")
SUFFIX = ("St", "Ave", "Rd", "Blvd", "Ln", "Dr", "Ct")
ZIP3 = (21, 303, 606, 100, 941, 787, 980, 331, 852, 481, 5, 190, 282, 372, 462, 551, 640, 731, 802, 891)

_SAE_VERBATIM = {
    "Suicide attempt": ("suicide attempt, admitted", "overdose - suicide attempt"),
    "Depression": ("worsening depression requiring admission",),
    "Suicidal ideation": ("active suicidal ideation, admitted",),
    "Hypertension": ("hypertensive urgency after dose",),
    "Syncope": ("fainted after session",),
    ALT_INCREASED[0]: ("ALT elevated", "raised liver enzymes (ALT)"),
}


def _catalogue():
    """All preferred terms the model can emit, with codes and verbatim variants."""
    pts, codes, verbs, off, nvar = [], [], [], [], []
    for pt, t in AE_TERMS.items():
        pts.append(pt); codes.append(t.meddra_code); off.append(len(verbs)); nvar.append(len(t.verbatims))
        verbs.extend(t.verbatims)
    for pt, code, *_ in SAE_TERMS + ((ALT_INCREASED[0], ALT_INCREASED[1], "", 0.0, False),):
        if pt in pts:
            continue
        pts.append(pt); codes.append(code); off.append(len(verbs)); nvar.append(len(_SAE_VERBATIM[pt]))
        verbs.extend(_SAE_VERBATIM[pt])
    return pts, codes, verbs, np.array(off), np.array(nvar)


AE_PT, AE_CODE, AE_VERBATIM, _VERB_OFF, _VERB_N = _catalogue()
_PT_INDEX = {pt: i for i, pt in enumerate(AE_PT)}
_AE_KEYS = list(AE_TERMS)
_AE_ACUTE = np.array([AE_TERMS[t].kind == "acute" for t in _AE_KEYS])


# --------------------------------------------------------------------------------------------
# Output containers

@dataclass
class TableChunk:
    """One table of one chunk, rendered, plus what decides which export shows which version."""
    table: pa.Table
    first: np.ndarray                   # export index that first carries the row
    pnum: np.ndarray                    # patient number (withdrawals drop whole patients)
    withdrawn: np.ndarray               # absent from the last full export
    early: pa.Table | None = None       # earlier versions (rows of `table` as first sent)
    early_pos: np.ndarray | None = None  # per row: index into `early`, or -1
    early_until: np.ndarray | None = None  # per row: first export showing the final version

    def rows_for(self, k: int, n_exports: int) -> np.ndarray:
        """Which rows export k holds, as indices into `combined` (final or earlier versions).

        k = 0 (full): everything first exported at 0. 0 < k < n-1 (incremental): new rows plus
        rows whose final version arrives at k (corrections, AE resolutions). k = n-1 > 0 (full):
        every row so far except withdrawn ones. Each row shows the version export k knows.
        """
        first = self.first
        until = self.early_until if self.early_until is not None else np.zeros(len(first), np.int16)
        if k == 0:
            sel = first == 0
        elif k < n_exports - 1:
            sel = (first == k) | ((first < k) & (until == k))
        else:
            sel = (first <= k) & ~self.withdrawn
        rows = np.flatnonzero(sel)
        if self.early is None:
            return rows
        return np.where(until[rows] > k, self.table.num_rows + self.early_pos[rows], rows)

    @property
    def combined(self) -> pa.Table:
        """The rows followed by their earlier versions."""
        return self.table if self.early is None else pa.concat_tables([self.table, self.early])

    def view(self, k: int, n_exports: int) -> pa.Table:
        return self.combined.take(pa.array(self.rows_for(k, n_exports)))


@dataclass
class Chunk:
    tables: dict[str, TableChunk]
    enrolled_day: dict[str, int] = field(default_factory=dict)       # patient_id -> day number
    first_session_day: dict[str, int] = field(default_factory=dict)  # treated patients only


def _table(name: str, cols: dict[str, pa.Array]) -> pa.Table:
    return pa.table([cols[c] for c in COLUMNS[name]], names=list(COLUMNS[name]))


def _with_early(tc: TableChunk, rows: np.ndarray, until: np.ndarray, changes: dict[str, pa.Array]) -> TableChunk:
    """Attach earlier versions: row rows[i] shows `changes` (i-th values) before export until[i]."""
    n = tc.table.num_rows
    early = tc.table.take(pa.array(rows))
    for name, values in changes.items():
        early = early.set_column(early.schema.get_field_index(name), name, values)
    pos = np.full(n, -1, dtype=np.int64)
    pos[rows] = np.arange(len(rows))
    u = np.zeros(n, dtype=np.int16)
    u[rows] = until
    tc.early, tc.early_pos, tc.early_until = early, pos, u
    return tc


def _local_index(group: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within runs of equal values of a sorted array."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


# --------------------------------------------------------------------------------------------
# Item-level scores

def _split(rng, totals: np.ndarray, n_items: int, per_item: int, weights=None) -> np.ndarray:
    """Spread each total over items (each 0..per_item) so that they sum to it exactly.

    Every item has per_item unit slots; the `total` slots with the largest Efraimidis-Spirakis
    keys are filled, so low-weight items (PHQ-9 item 9) fill last.
    """
    slots = n_items * per_item
    out = np.zeros((len(totals), n_items), dtype=np.int64)
    w = None if weights is None else np.repeat(np.asarray(weights, dtype=float), per_item)
    for lo in range(0, len(totals), 50_000):
        t = totals[lo:lo + 50_000]
        keys = rng.random((len(t), slots))
        if w is not None:
            keys = keys ** (1.0 / w)
        order = np.argsort(-keys, axis=1)
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.broadcast_to(np.arange(slots), order.shape), axis=1)
        out[lo:lo + 50_000] = (ranks < t[:, None]).reshape(len(t), n_items, per_item).sum(axis=2)
    return out


def _group_with_max(rng, d: np.ndarray, size: int) -> np.ndarray:
    """`size` items whose maximum is d (QIDS sleep / appetite / psychomotor domains)."""
    items = np.floor(rng.random((len(d), size)) * (d[:, None] + 1)).astype(np.int64)
    items[np.arange(len(d)), rng.integers(0, size, len(d))] = d
    return items


PHQ9_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 1, 0.05)          # item 9 (self-harm) endorsed last
MADRS_WEIGHTS = (1, 1, 1, 1, 1, 1, 1, 1, 1, 0.4)


def item_matrix(rng, instrument: int, totals: np.ndarray) -> np.ndarray:
    if instrument == PHQ9:
        return _split(rng, totals, 9, 3, PHQ9_WEIGHTS)
    if instrument == GAD7:
        return _split(rng, totals, 7, 3)
    if instrument == MADRS:
        return _split(rng, totals, 10, 6, MADRS_WEIGHTS)
    if instrument == QIDS:
        # total = max(q1..q4) + q5 + max(q6..q9) + q10..q14 + max(q15, q16)  (reference §1.2)
        d = _split(rng, totals, 9, 3)
        return np.hstack([_group_with_max(rng, d[:, 0], 4), d[:, 1:2], _group_with_max(rng, d[:, 2], 4),
                          d[:, 3:8], _group_with_max(rng, d[:, 8], 2)])
    raise ValueError(instrument)


def item_strings(rng, instrument: np.ndarray, totals: np.ndarray) -> pa.Array:
    """`;`-joined item scores for PHQ-9, GAD-7, MADRS and QIDS rows; null for the others."""
    pieces, index = [], np.full(len(totals), -1, dtype=np.int64)
    base = 0
    for inst in (PHQ9, GAD7, MADRS, QIDS):
        rows = np.flatnonzero(instrument == inst)
        if len(rows) == 0:
            continue
        m = item_matrix(rng, inst, totals[rows])
        pieces.append(R.join([R.ints(m[:, i]) for i in range(m.shape[1])], ";"))
        index[rows] = base + np.arange(len(rows))
        base += len(rows)
    pieces.append(R.nulls(1))
    return pa.concat_arrays(pieces).take(pa.array(np.where(index < 0, base, index)))


# --------------------------------------------------------------------------------------------
# The chunk

def build_chunk(chunk_index: int, pnum0: int, count: int, seed: int, params: CohortParams,
                tl: Timeline) -> Chunk:
    """Patients pnum0 .. pnum0+count-1 (1-based numbers) and all their records."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk_index]))
    return _Builder(rng, np.arange(pnum0, pnum0 + count, dtype=np.int64), params, tl).build()


class _Builder:
    def __init__(self, rng, pnum, params: CohortParams, tl: Timeline):
        self.rng, self.pnum, self.p, self.tl = rng, pnum, params, tl
        self.n = len(tl)
        self.P = len(pnum)

    def build(self) -> Chunk:
        self._patients()
        self._trajectories()
        self._sessions()
        tables = {
            "patients": self._patients_table(),
            "sessions": self._sessions_table(),
            "vitals": self._vitals_table(),
            "assessments": self._assessments_table(),
        }
        labs, alt_events = self._labs_table()
        tables["adverse_events"] = self._ae_table(alt_events)
        tables["labs"] = labs
        pid = self.pid.to_pylist()
        chunk = Chunk(tables, dict(zip(pid, self.enrolled.tolist())))
        for i in np.flatnonzero(self.n_ses > 0):
            chunk.first_session_day[pid[i]] = int(self.ses_start[self.ses_row0[i]] // DAY)
        return chunk

    # ---- patients ---------------------------------------------------------------------------
    def _patients(self):
        rng, P, p, tl = self.rng, self.P, self.p, self.tl
        last_enrol = max(tl.start_day, tl.horizon_day - 14)
        self.enrolled = tl.start_day + rng.integers(0, last_enrol - tl.start_day + 1, P)
        age = np.clip(rng.normal(46, 13, P), 18, 89)
        age = np.where(rng.random(P) < 0.002, rng.uniform(90, 96, P), age)
        self.age = age
        self.birth = self.enrolled - (age * 365.25).astype(np.int64)
        self.sex = rng.choice(4, P, p=[0.62, 0.365, 0.01, 0.005])
        self.site = rng.integers(0, p.n_sites, P)
        self.route = rng.choice(4, P, p=p.route_weights())
        male = self.sex == 1
        self.weight = np.round(np.clip(rng.normal(np.where(male, 86, 74), 17), 42, 190), 1)
        self.pid = ids.patient_ids(self.pnum)
        self.p_first = tl.first_export(self.enrolled * DAY)
        self.p_withdrawn = ((self.n >= 2) & (self.p_first <= self.n - 2)
                            & (rng.random(P) < p.withdrawal_rate))

    def _patients_table(self) -> TableChunk:
        rng, P = self.rng, self.P
        male = self.sex == 1
        first = R.where(male, R.codes(rng.integers(0, len(FIRST_M), P), FIRST_M),
                        R.codes(rng.integers(0, len(FIRST_F), P), FIRST_F))
        last = R.codes(rng.integers(0, len(LAST), P), LAST)
        email = R.join([pc.utf8_lower(first), ".", pc.utf8_lower(pc.replace_substring(last, "'", "")),
                        R.ints(self.pnum % 1000), "@example.com"])
        apt = rng.random(P) < 0.2
        street = R.join([R.ints(rng.integers(1, 9999, P)), " ", R.codes(rng.integers(0, len(STREETS), P), STREETS),
                         " ", R.codes(rng.integers(0, len(SUFFIX), P), SUFFIX)])
        street = R.where(apt, R.join([street, ", Apt ", R.ints(rng.integers(1, 40, P))]), street)
        trd = np.minimum(2 + rng.poisson(1.8, P), 15)
        trd = np.where(rng.random(P) < 0.03, rng.integers(0, 2, P), trd)
        zip3 = np.asarray(ZIP3)[self.site]
        cols = {
            "patient_id": self.pid,
            "first_name": first,
            "last_name": last,
            # 9xx area numbers are never issued: the SSNs are fake by construction
            "ssn": R.join([R.ints(rng.integers(900, 1000, P)), "-", R.padded(rng.integers(1, 100, P), 2), "-",
                           R.padded(rng.integers(1, 10000, P), 4)]),
            # 555-0100..0199 is reserved for fiction
            "phone": R.join(["(", R.ints(rng.integers(201, 990, P)), ") 555-01", R.padded(rng.integers(0, 100, P), 2)]),
            "email": email,
            "street_address": street,
            "birth_date": R.dates(self.birth),
            "sex": R.codes(self.sex, SEX),
            "zip": R.padded(zip3 * 100 + rng.integers(0, 100, P), 5),
            "enrolled_on": R.dates(self.enrolled),
            "site_id": R.join(["site-", R.padded(self.site + 1, 2)]),
            "trd_failed_trials": R.ints(trd),
            "diagnosis_icd10": R.codes(rng.choice(len(ICD10), P, p=[0.55, 0.2, 0.15, 0.05, 0.03, 0.02]), ICD10),
        }
        return TableChunk(_table("patients", cols), self.p_first, self.pnum, self.p_withdrawn)

    # ---- response model ---------------------------------------------------------------------
    def _trajectories(self):
        rng, P, p = self.rng, self.P, self.p
        resp_p = np.array([p.response_prob.get(r, 0.0) for r in ROUTES])[self.route]
        self.responder = rng.random(P) < resp_p
        early = self.responder & (rng.random(P) < p.early_response_share)
        self.t_resp = np.where(early, rng.uniform(1, 7, P), rng.uniform(8, 56, P))
        self.rmax = np.where(self.responder, rng.uniform(0.65, 0.95, P), rng.uniform(0.0, 0.35, P))
        # responders reach 60 % reduction exactly at t_resp
        tau_resp = self.t_resp / -np.log(1 - 0.6 / np.maximum(self.rmax, 0.61))
        self.tau = np.where(self.responder, tau_resp, rng.uniform(7, 28, P))
        self.relapse = self.responder & (rng.random(P) < p.relapse_prob)
        self.t_rel = self.t_resp + rng.uniform(21, 120, P)
        self.rho = rng.uniform(0.0, 0.25, P)
        self.base_madrs = np.clip(np.rint(rng.normal(33.5, 3.5, P)), 28, 44)
        self.base_phq9 = np.clip(np.rint(rng.normal(19, 3.5, P)), 11, 27)
        self.base_gad7 = np.clip(np.rint(rng.normal(13, 4, P)), 3, 21)
        self.base_qids = np.clip(np.rint(rng.normal(17, 3, P)), 10, 27)
        self.has_gad = rng.random(P) < 0.6
        self.has_qids = rng.random(P) < 0.35
        self.has_cssrs = rng.random(P) < 0.8

    def _reduction(self, pi: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Fraction of the baseline score gone t days after the first dose."""
        t = np.maximum(t, 0.0)
        r = self.rmax[pi] * (1 - np.exp(-t / self.tau[pi]))
        dt = t - self.t_rel[pi]
        rel = self.relapse[pi] & (dt > 0)
        back = 1 - (1 - self.rho[pi]) * (1 - np.exp(-np.where(rel, dt, 0.0) / 10.0))
        return np.where(rel, r * back, r)

    # ---- sessions ---------------------------------------------------------------------------
    def _sessions(self):
        rng, P, p, tl = self.rng, self.P, self.p, self.tl
        route = self.route
        n_ind = np.where(route == ESK, 8, np.where(rng.random(P) < 0.5, 6, 8))
        biweekly = rng.random(P) < p.biweekly_maintenance_share
        d0 = rng.integers(0, 14, P)
        K = (tl.horizon_day - tl.start_day) // 3 + 3
        k = np.arange(K)[None, :]
        ni = n_ind[:, None]
        gap = np.where(k < ni, np.where(k % 2 == 1, 3, 4),
                       np.where(k < ni + 4, 7, np.where(biweekly[:, None], 14, 7)))
        gap = gap + 7 * (rng.random((P, K)) < p.missed_session_prob)
        gap[:, 0] = d0
        day = self.enrolled[:, None] + np.cumsum(gap, axis=1)
        minute = rng.integers(60, 84, P)[:, None] * 15 + rng.integers(-2, 3, (P, K)) * 15  # 14:30-21:15Z
        start = day * DAY + minute * 60
        in_time = (start <= tl.horizon_s).sum(axis=1)
        # when does treatment stop?
        nonresp_at_4w = ~self.responder | (self.t_resp > 28)
        stop_now = nonresp_at_4w & (rng.random(P) < p.stop_if_nonresponse_prob)
        later = n_ind + (rng.geometric(p.dropout_per_session, P) if p.dropout_per_session > 0 else K)
        n_stop = np.where(stop_now, n_ind, later)
        quit_ind = rng.random(P) < p.induction_dropout_prob
        n_stop = np.where(quit_ind, rng.integers(1, n_ind), n_stop)
        self.n_ses = np.minimum(np.minimum(n_stop, in_time), K)
        mask = np.arange(K)[None, :] < self.n_ses[:, None]
        pi, kk = np.nonzero(mask)
        self.ses_pi, self.ses_k = pi, kk
        self.ses_start = start[pi, kk]
        self.ses_day = day[pi, kk]
        self.ses_row0 = np.r_[0, np.cumsum(self.n_ses)[:-1]]
        first_start = start[:, 0]
        self.ses_t = (self.ses_start - first_start[pi]) / DAY
        self.d0 = d0
        self.ses_first = tl.first_export(self.ses_start)
        self.ses_pnum = self.pnum[pi]
        self.ses_id = ids.record_ids("sessions", self.ses_pnum, kk)
        self.ses_withdrawn = self.p_withdrawn[pi]

        S = len(pi)
        r = route[pi]
        self.ses_route = r
        esk = r == ESK
        target84 = rng.random(P) < p.esketamine_84mg_share
        day1_28 = (self.age >= 65) & (rng.random(P) < 0.5)
        esk_dose = np.where(kk == 0, np.where(day1_28[pi], 28, 56), np.where(target84[pi], 84, 56))
        mgkg_pat = np.select(
            [route == IV, route == IM, route == ORAL],
            [rng.choice([0.5, 0.75, 1.0, 0.4], P, p=[0.82, 0.1, 0.04, 0.04]),
             rng.choice([0.5, 0.75, 1.0], P, p=[0.5, 0.3, 0.2]),
             rng.choice([1.0, 1.5, 2.0, 3.0], P, p=[0.4, 0.3, 0.2, 0.1])], 0.0)
        mgkg = mgkg_pat[pi]
        weight = self.weight[pi]
        self.ses_dose = np.where(esk, esk_dose, np.round(mgkg * weight, 1))
        self.ses_mgkg = mgkg
        weight_known = ~esk | (rng.random(P) < 0.5)[pi]
        infusion = rng.choice([40, 30, 45, 60], P, p=[0.9, 0.03, 0.05, 0.02])[pi]
        monitoring = np.select(
            [esk, r == IV, r == IM],
            [np.where(rng.random(S) < p.rems_deviation_prob, rng.integers(90, 120, S), 120 + rng.integers(0, 61, S)),
             infusion + rng.integers(30, 61, S), rng.integers(60, 91, S)],
            rng.integers(60, 121, S))
        self.ses_monitoring = monitoring
        setting_pat = np.select(
            [route == ESK, route == IV, route == ORAL],
            [rng.choice(4, P, p=[0.97, 0.03, 0, 0]), rng.choice(4, P, p=[0.92, 0.06, 0.02, 0]),
             rng.choice(4, P, p=[0.85, 0, 0, 0.15])], 0)
        self.ses_cols = {
            "session_id": self.ses_id,
            "patient_id": self.pid.take(pa.array(pi)),
            "session_start": R.datetimes(self.ses_start),
            "drug": R.codes(r, DRUG),
            "route": R.codes(r, ROUTE),
            "dose_mg": R.decimals(self.ses_dose),
            "dose_mg_per_kg": R.decimals(mgkg, valid=~esk, digits=2),
            "weight_kg": R.decimals(weight, valid=weight_known),
            "infusion_minutes": R.ints(infusion, valid=r == IV),
            "devices": R.ints(esk_dose // 28, valid=esk),
            "setting": R.codes(setting_pat[pi], SETTINGS),
            "monitoring_minutes": R.ints(monitoring),
        }

    def _sessions_table(self) -> TableChunk:
        return TableChunk(_table("sessions", self.ses_cols), self.ses_first, self.ses_pnum, self.ses_withdrawn)

    # ---- vitals -----------------------------------------------------------------------------
    def _vitals_table(self) -> TableChunk:
        rng, p, P = self.rng, self.p, self.P
        S = len(self.ses_pi)
        pi, r = self.ses_pi, self.ses_route
        sbp0 = rng.normal(123, 13, P)[pi]
        dbp0 = rng.normal(78, 8, P)[pi]
        hr0 = rng.normal(74, 10, P)[pi]
        pre_s = sbp0 + rng.normal(0, 6, S)
        pre_d = dbp0 + rng.normal(0, 4, S)
        scale = np.array([1.0, 0.55, 0.7, 0.4])[r] * np.where(self.ses_k < 8, 1.0, 0.75)
        surge_p = np.array([p.bp_surge_prob.get(x, 0.0) for x in ROUTES])[r]
        rise_s = scale * rng.gamma(2.0, 5.0, S) + rng.normal(0, 4, S)
        rise_s += np.where(rng.random(S) < surge_p, rng.uniform(25, 45, S), 0.0)
        rise_d = 0.6 * rise_s + rng.normal(0, 3, S)
        post_s, post_d = pre_s + rise_s, pre_d + rise_d
        back = rng.uniform(0.0, 0.35, S)
        dis_s, dis_d = pre_s + back * rise_s, pre_d + back * rise_d

        def bp(s, d):
            s = np.clip(np.rint(s), 80, 240)
            d = np.clip(np.rint(d), 45, 140)
            return s, np.minimum(d, s - 15)

        sys3, dia3 = zip(bp(pre_s, pre_d), bp(post_s, post_d), bp(dis_s, dis_d))
        hr_pre = hr0 + rng.normal(0, 5, S)
        hr3 = (hr_pre, hr_pre + rng.normal(6, 6, S), hr_pre + rng.normal(2, 4, S))
        desat = rng.random(S) < p.desaturation_prob
        spo3 = (100 - np.minimum(rng.poisson(1.5, S), 5),
                np.where(desat, rng.integers(85, 92, S), 100 - np.minimum(rng.poisson(2.0, S), 6)),
                100 - np.minimum(rng.poisson(1.3, S), 5))
        minutes3 = (np.zeros(S), np.full(S, 40), self.ses_monitoring)
        present = np.stack([np.ones(S, bool), rng.random(S) < 0.97, rng.random(S) < 0.95], axis=1).ravel()

        def flat(arrs):
            return np.stack(arrs, axis=1).ravel()[present]

        sidx = np.repeat(np.arange(S), 3)[present]
        tp = np.tile(np.arange(3), S)[present]
        cols = {
            "session_id": self.ses_id.take(pa.array(sidx)),
            "timepoint": R.codes(tp, TIMEPOINTS),
            "minutes_after_dose": R.ints(flat(minutes3), valid=tp > 0),
            "sbp": R.ints(flat(sys3)),
            "dbp": R.ints(flat(dia3)),
            "heart_rate": R.ints(np.clip(np.rint(flat(hr3)), 40, 160)),
            "spo2": R.ints(flat(spo3)),
        }
        return TableChunk(_table("vitals", cols), self.ses_first[sidx], self.ses_pnum[sidx],
                          self.ses_withdrawn[sidx])

    # ---- assessments ------------------------------------------------------------------------
    def _assessments_table(self) -> TableChunk:
        rng, P, tl = self.rng, self.P, self.tl
        blocks: list[tuple] = []   # (patient idx, time s, instrument, total, session row or -1, minutes or -1)

        def add(pi, time, inst, total, srow=None, minutes=None):
            n = len(pi)
            blocks.append((pi, np.asarray(time, np.int64), np.full(n, inst), np.asarray(total, np.int64),
                           np.full(n, -1) if srow is None else srow,
                           np.full(n, -1) if minutes is None else np.asarray(minutes, np.int64)))

        def score(base, pi, t, sd, cap, damp=1.0):
            red = damp * self._reduction(pi, t)
            return np.clip(np.rint(base[pi] * (1 - red) + rng.normal(0, sd, len(pi))), 0, cap)

        def cssrs(pi, t):
            level = 1 - self._reduction(pi, t)
            pos = rng.random(len(pi)) < 0.25 * level
            return np.where(pos, rng.choice([1, 2, 3, 4, 5], len(pi), p=[0.5, 0.25, 0.15, 0.07, 0.03]), 0)

        allp = np.arange(P)
        base_t = self.enrolled * DAY + 13 * 3600 + rng.integers(0, 61, P) * 60
        add(allp, base_t, PHQ9, self.base_phq9)
        add(allp, base_t + 60, MADRS, self.base_madrs)
        g = np.flatnonzero(self.has_gad); add(g, base_t[g] + 120, GAD7, self.base_gad7[g])
        q = np.flatnonzero(self.has_qids); add(q, base_t[q] + 180, QIDS, self.base_qids[q])
        c = np.flatnonzero(self.has_cssrs); add(c, base_t[c] + 240, CSSRS, cssrs(c, np.zeros(len(c))))

        # MADRS the day after the first dose (early response shows here)
        treated = np.flatnonzero(self.n_ses > 0)
        d1 = treated[rng.random(len(treated)) < 0.6]
        if len(d1):
            t1 = self.ses_start[self.ses_row0[d1]] + DAY + rng.integers(-60, 61, len(d1)) * 60
            add(d1, t1, MADRS, score(self.base_madrs, d1, np.ones(len(d1)), 2.5, 60))

        spi, sk, sstart, st = self.ses_pi, self.ses_k, self.ses_start, self.ses_t
        S = len(spi)
        rows = np.arange(S)
        # pre-dose self-reports and ratings (not tied to the session: they are outcome measures)
        pre = (rng.random(S) < 0.92) & ~((sk == 0) & (self.d0[spi] == 0))
        m = rows[pre]; add(spi[m], sstart[m] - rng.integers(5, 31, len(m)) * 60, PHQ9,
                           score(self.base_phq9, spi[m], st[m], 1.8, 27))
        madrs_at = np.isin(sk, (2, 4, 6, 8)) | ((sk > 8) & (sk % 4 == 0))
        m = rows[madrs_at]; add(spi[m], sstart[m] - rng.integers(31, 61, len(m)) * 60, MADRS,
                                score(self.base_madrs, spi[m], st[m], 2.5, 60))
        m = rows[(sk % 4 == 2) & self.has_gad[spi]]
        add(spi[m], sstart[m] - 32 * 60, GAD7, score(self.base_gad7, spi[m], st[m], 1.8, 21, 0.8))
        m = rows[(sk % 4 == 3) & self.has_qids[spi]]
        add(spi[m], sstart[m] - 33 * 60, QIDS, score(self.base_qids, spi[m], st[m], 1.8, 27))
        m = rows[(sk % 4 == 1) & self.has_cssrs[spi]]
        add(spi[m], sstart[m] - 34 * 60, CSSRS, cssrs(spi[m], st[m]))

        # peri-dose: CADSS peaks at 40 min and is mostly gone by 90-120 min [R12]; MOAA/S
        r = self.ses_route
        peak = np.array([11.0, 10.0, 13.0, 4.0])[r]
        peak = np.where(r == ESK, peak * self.ses_dose / 70.0, peak * np.maximum(self.ses_mgkg, 0.25) / 0.5 * np.where(r == ORAL, 0.5, 1.0))
        peak = peak * (0.4 + 0.6 * np.exp(-sk / 6.0)) * np.where(sk == 0, 1.25, 1.0)
        late_min = np.where(r == ESK, 120, 90)
        m = rows[rng.random(S) < 0.3]
        add(spi[m], sstart[m], CADSS, rng.poisson(0.5, len(m)), m, np.zeros(len(m)))
        m = rows[rng.random(S) < 0.95]
        add(spi[m], sstart[m] + 40 * 60, CADSS,
            np.minimum(rng.poisson(rng.gamma(2.0, peak[m] / 2.0)), 92), m, np.full(len(m), 40))
        m = rows[rng.random(S) < 0.8]
        add(spi[m], sstart[m] + late_min[m] * 60, CADSS, rng.poisson(0.08 * peak[m]), m, late_min[m])
        m = rows[rng.random(S) < 0.95]
        sed = rng.random(len(m)) < self.p.sedation_prob * np.where(r[m] == ORAL, 0.5, 1.0)
        moaas = np.where(sed, rng.choice([4, 3, 2], len(m), p=[0.7, 0.25, 0.05]), 5)
        moaas = np.where(rng.random(len(m)) < self.p.loss_of_consciousness_prob, 0, moaas)
        add(spi[m], sstart[m] + 40 * 60, MOAAS, moaas, m, np.full(len(m), 40))
        m = rows[rng.random(S) < 0.9]
        mins = self.ses_monitoring[m]
        add(spi[m], sstart[m] + mins * 60, MOAAS, np.where(rng.random(len(m)) < 0.005, 4, 5), m, mins)

        pi, time, inst, total, srow, minutes = (np.concatenate(x) for x in zip(*blocks))
        keep = time <= tl.horizon_s
        order = np.lexsort((inst, time, pi))
        order = order[keep[order]]
        pi, time, inst, total, srow, minutes = (a[order] for a in (pi, time, inst, total, srow, minutes))
        pnum = self.pnum[pi]
        first = tl.first_export(time)
        has_session = srow >= 0
        cols = {
            "assessment_id": ids.record_ids("assessments", pnum, _local_index(pnum)),
            "patient_id": self.pid.take(pa.array(pi)),
            "session_id": self.ses_id.take(pa.array(np.where(has_session, srow, 0), mask=~has_session)),
            "assessed_at": R.datetimes(time),
            "instrument": R.codes(inst, INSTRUMENTS),
            "total_score": R.ints(total),
            "item_scores": item_strings(rng, inst, total),
            "minutes_after_dose": R.ints(minutes, valid=has_session),
        }
        withdrawn = self.p_withdrawn[pi] | (~has_session & (first <= self.n - 2)
                                            & (rng.random(len(pi)) < self.p.record_withdrawal_rate))
        tc = TableChunk(_table("assessments", cols), first, pnum, withdrawn)
        # corrections: a score first sent wrong, fixed in the next export
        fix = np.flatnonzero(np.isin(inst, (PHQ9, GAD7, MADRS, QIDS)) & (first <= self.n - 2)
                             & (rng.random(len(pi)) < self.p.correction_rate))
        if len(fix):
            cap = np.array([27, 21, 60, 27, 92, 5, 5])[inst[fix]]
            delta = rng.integers(1, 4, len(fix)) * rng.choice([-1, 1], len(fix))
            wrong = np.clip(total[fix] + delta, 0, cap)
            wrong = np.where(wrong == total[fix], np.clip(total[fix] - delta, 0, cap), wrong)
            _with_early(tc, fix, first[fix] + 1, {"total_score": R.ints(wrong),
                                                  "item_scores": item_strings(rng, inst[fix], wrong)})
        return tc

    # ---- labs -------------------------------------------------------------------------------
    def _labs_table(self):
        rng, P, p, tl = self.rng, self.P, self.p, self.tl
        has = rng.random(P) < p.labs_share
        ggt = has & (rng.random(P) < 0.3)
        treated = self.n_ses > 0
        hepatic = has & treated & (rng.random(P) < p.hepatic_signal_prob)
        days = np.r_[self.ses_day, 0]                 # padded: untreated patients index the 0
        first_day = days[np.where(treated, self.ses_row0, len(self.ses_day))]
        last_day = days[np.where(treated, self.ses_row0 + self.n_ses - 1, len(self.ses_day))]
        end = np.minimum(last_day + 14, tl.horizon_day)
        n_fu = np.where(has & treated, np.maximum(0, (end - first_day) // 90), 0)
        n_pan = has.astype(np.int64) + n_fu
        ppi = np.repeat(np.arange(P), n_pan)
        j = _local_index(ppi)                         # 0 = baseline, j = follow-up j
        pday = np.where(j == 0, self.enrolled[ppi], first_day[ppi] + 90 * j)
        ntest = np.where(ggt[ppi], 3, 2)
        li = np.repeat(np.arange(len(ppi)), ntest)
        test = _local_index(li)
        lpi, lday, lj = ppi[li], pday[li], j[li]
        L = len(li)
        value = np.select([test == 0, test == 1], [rng.lognormal(np.log(22), 0.35, L), rng.lognormal(np.log(23), 0.28, L)],
                          rng.lognormal(np.log(25), 0.5, L))
        rise = hepatic[lpi] & (lj > 0)
        uln = np.asarray(LAB_ULN)[test]
        value = np.where(rise, uln * rng.uniform(1.2, 6.0, L) * np.where(test == 1, 0.8, 1.0), value)
        value = np.maximum(np.rint(value), 1).astype(np.int64)
        pnum = self.pnum[lpi]
        first = tl.first_export(lday * DAY + 12 * 3600)
        cols = {
            "lab_id": ids.record_ids("labs", pnum, _local_index(pnum)),
            "patient_id": self.pid.take(pa.array(lpi)),
            "collected_on": R.dates(lday),
            "test": R.codes(test, LAB_TESTS),
            "value": R.ints(value),
            "unit": R.const("U/L", L),
            "uln": R.ints(uln),
        }
        tc = TableChunk(_table("labs", cols), first, pnum, self.p_withdrawn[lpi])
        fix = np.flatnonzero((first <= self.n - 2) & (rng.random(L) < p.correction_rate))
        if len(fix):
            wrong = np.maximum(value[fix] + rng.choice([-5, -3, -2, 2, 3, 5], len(fix)), 0)
            _with_early(tc, fix, first[fix] + 1, {"value": R.ints(wrong)})
        # the first ALT >= 3 x ULN of a patient is also reported as an adverse event
        high = np.flatnonzero((test == 0) & (value >= 3 * 40))
        high = high[np.r_[True, lpi[high][1:] != lpi[high][:-1]]] if len(high) else high
        return tc, (lpi[high], lday[high])

    # ---- adverse events ---------------------------------------------------------------------
    def _ae_table(self, alt_events) -> TableChunk:
        rng, P, p, tl = self.rng, self.P, self.p, self.tl
        J = len(_AE_KEYS)
        treated = self.n_ses > 0
        inc = np.array([p.ae_incidence.get(t, 0.0) for t in _AE_KEYS])
        factor = np.array([p.ae_route_factor.get(r, 1.0) for r in ROUTES])[self.route]
        hit = (rng.random((P, J)) < np.clip(inc[None, :] * factor[:, None], 0, 1)) & treated[:, None]
        hp, hj = np.nonzero(hit)
        acute_h = _AE_ACUTE[hj]
        extra = np.where(acute_h, rng.binomial(np.maximum(self.n_ses[hp] - 1, 0), p.ae_recurrence_per_session), 0)
        ev = np.repeat(np.arange(len(hp)), 1 + extra)
        ep, ej = hp[ev], hj[ev]
        E = len(ev)
        is_first = np.r_[True, ev[1:] != ev[:-1]] if E else np.zeros(0, bool)
        ns = self.n_ses[ep]
        acute = _AE_ACUTE[ej]
        k_ev = np.where(is_first,
                        np.where(acute, np.minimum(rng.geometric(0.35, E) - 1, ns - 1),
                                 np.minimum((ns * np.sqrt(rng.random(E))).astype(np.int64), ns - 1)),
                        rng.integers(0, np.maximum(ns, 1)))
        srow = self.ses_row0[ep] + k_ev
        late_onset = np.minimum(self.ses_day[srow] + rng.integers(0, 15, E), tl.horizon_day)
        onset = np.where(acute, self.ses_day[srow], late_onset)
        pt = np.array([_PT_INDEX[_AE_KEYS[j]] for j in ej], dtype=np.int64)
        kind = np.where(acute, 0, 1)                    # 0 acute, 1 late, 2 serious, 3 ALT
        crit = np.zeros((E, len(SAE_CRITERIA)), dtype=np.int64)
        blocks = [(ep, pt, onset, np.where(acute, srow, -1), kind, crit)]

        # serious events
        sp = np.flatnonzero(treated & (rng.random(P) < p.sae_rate))
        if len(sp):
            which = rng.choice(len(SAE_TERMS), len(sp), p=np.array([t[3] for t in SAE_TERMS]) / sum(t[3] for t in SAE_TERMS))
            ns = self.n_ses[sp]
            srow = self.ses_row0[sp] + rng.integers(0, ns)
            linked = np.array([t[4] for t in SAE_TERMS])[which]
            onset = np.where(linked, self.ses_day[srow], np.minimum(self.ses_day[srow] + rng.integers(1, 21, len(sp)), tl.horizon_day))
            c = np.zeros((len(sp), len(SAE_CRITERIA)), dtype=np.int64)
            cidx = np.array([SAE_CRITERIA.index(t[2]) for t in SAE_TERMS])[which]
            c[np.arange(len(sp)), cidx] = 1
            attempt = np.array([t[0] == "Suicide attempt" for t in SAE_TERMS])[which]
            c[:, SAE_CRITERIA.index("life_threatening")] |= (attempt & (rng.random(len(sp)) < 0.3)).astype(np.int64)
            pts = np.array([_PT_INDEX[t[0]] for t in SAE_TERMS])[which]
            blocks.append((sp, pts, onset, np.where(linked, srow, -1), np.full(len(sp), 2), c))
        ap, aday = alt_events
        if len(ap):
            blocks.append((ap, np.full(len(ap), _PT_INDEX[ALT_INCREASED[0]]), aday, np.full(len(ap), -1),
                           np.full(len(ap), 3), np.zeros((len(ap), len(SAE_CRITERIA)), dtype=np.int64)))
        pi, pt, onset, srow, kind, crit = (np.concatenate(x) for x in zip(*blocks))
        n = len(pi)
        linked = srow >= 0
        starts = np.r_[self.ses_start, 0]
        vis = np.where(linked, starts[np.where(linked, srow, -1)], onset * DAY + 12 * 3600)
        order = np.lexsort((pt, vis, pi))
        pi, pt, onset, srow, kind, crit, vis, linked = (a[order] for a in (pi, pt, onset, srow, kind, crit, vis, linked))
        first = tl.first_export(vis)

        def pick(options, probs_by_kind):
            out = np.zeros(n, dtype=np.int64)
            for kd, probs in probs_by_kind.items():
                m = kind == kd
                out[m] = rng.choice(len(options), m.sum(), p=probs)
            return out

        sev = pick(SEVERITY, {0: [0.65, 0.30, 0.05], 1: [0.55, 0.38, 0.07], 2: [0, 0.4, 0.6], 3: [0.7, 0.3, 0]})
        rel = pick(RELATED, {0: [0.03, 0.07, 0.30, 0.45, 0.15], 1: [0.1, 0.2, 0.45, 0.2, 0.05],
                             2: [0.4, 0.35, 0.2, 0.05, 0.0], 3: [0, 0.1, 0.5, 0.35, 0.05]})
        out = pick(OUTCOME, {0: [0.93, 0.03, 0.02, 0, 0, 0.02], 1: [0.55, 0.2, 0.2, 0.05, 0, 0],
                             2: [0.85, 0.1, 0, 0.05, 0, 0], 3: [0.7, 0.3, 0, 0, 0, 0]})
        lag = np.select([kind == 0, kind == 1, kind == 2],
                        [np.where(rng.random(n) < 0.8, 0, rng.integers(1, 4, n)), rng.integers(3, 61, n),
                         rng.integers(2, 31, n)], rng.integers(20, 91, n))
        resolved = onset + lag
        has_res = np.isin(out, (0, 3))
        verb = _VERB_OFF[pt] + np.floor(rng.random(n) * _VERB_N[pt]).astype(np.int64)
        pnum = self.pnum[pi]
        cols = {
            "ae_id": ids.record_ids("adverse_events", pnum, _local_index(pnum)),
            "patient_id": self.pid.take(pa.array(pi)),
            "session_id": self.ses_id.take(pa.array(np.where(linked, srow, 0), mask=~linked)),
            "onset_date": R.dates(onset),
            "term": R.codes(verb, AE_VERBATIM),
            "meddra_pt": R.codes(pt, AE_PT),
            "meddra_code": R.codes(pt, AE_CODE, valid=np.asarray(AE_CODE, dtype=object)[pt] != ""),
            "severity": R.codes(sev, SEVERITY),
            "serious": R.ints(crit.max(axis=1) if n else np.zeros(0)),
            **{c: R.ints(crit[:, i]) for i, c in enumerate(SAE_CRITERIA)},
            "related": R.codes(rel, RELATED),
            "outcome": R.codes(out, OUTCOME),
            "resolved_date": R.dates(resolved, valid=has_res),
        }
        tc = TableChunk(_table("adverse_events", cols), first, pnum, self.p_withdrawn[pi])
        # an event first sent before it resolved shows "recovering" until the export after resolution
        res_first = tl.first_export(resolved * DAY)
        pending = has_res & (res_first > first)
        fix = (~pending & (first <= self.n - 2) & (rng.random(n) < p.correction_rate))
        rows = np.flatnonzero(pending | fix)
        if len(rows):
            pend = pending[rows]
            until = np.where(pend, res_first[rows], first[rows] + 1)
            early_out = np.where(pend, 1, out[rows])
            early_sev = np.where(pend, sev[rows], np.where(sev[rows] == 0, 1, sev[rows] - 1))
            early_res = has_res[rows] & ~pend
            _with_early(tc, rows, until, {"outcome": R.codes(early_out, OUTCOME),
                                          "severity": R.codes(early_sev, SEVERITY),
                                          "resolved_date": R.dates(resolved[rows], valid=early_res)})
        return tc

