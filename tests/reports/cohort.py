"""A small warehouse with planted, exactly known counts, written straight into history.* and
core.* after the migrations (no flow, so tests stay fast).

Registry reg-a: 100 esketamine intranasal (EI) and 80 ketamine IV patients, first sessions
2025-01-06 .. 2025-01-25, 17 sessions each (days 0,3,..,24 then weekly to day 84).
Planted:
- PHQ-9 baseline 20 the day before; 15 at days 7 and 14; from day 28: responders 8, remitters 4.
  EI: 60 responders of whom 30 remitters; IV: 40 responders, 0 remitters.
- Dissociation: first 30 EI patients at their first session, the first 10 again at the second:
  40 events, 30 patients. Nausea: first 20 IV patients once.
- 12 serious 'Suicide attempt' (hospitalisation) among IV patients.
- Vitals on every EI session: pre 120/80, post40 125/82; the first 25 EI patients' first
  session post40 165/85 (rise 45): 25 sessions with a notable BP rise.
- CADSS 40 min after each EI first session: 12 for the first 50 patients, 2 for the rest.
- Monitoring 125 min on EI sessions, 100 min on the first session of the first 15 EI patients.
- ALT 150 U/L (ULN 40) for the first 12 IV patients at day 30.
Registry reg-b: 5 EI patients, no events (small cells for suppression).
Load 1 = reg-a (exported 2025-05-01), load 2 = reg-b, load 3 = reg-a correction (exported
2025-05-15) withdrawing one Nausea event and changing nothing else.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from warehouse.migrate import migrate

DAYS = [0, 3, 7, 10, 14, 17, 21, 24] + list(range(28, 85, 7))
LINEAGE = ["load_id", "export_id", "exported_at", "loaded_at", "source_file", "source_row", "warnings"]


def _ts(d: date, hour: int = 9, minute: int = 0) -> datetime:
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=timezone.utc)


def cohort_frames(registry: str, n_ei: int, n_iv: int, plant: bool = True) -> dict[str, list[dict]]:
    t = {k: [] for k in ("patients", "sessions", "vitals", "assessments", "adverse_events", "labs")}
    groups = [("esketamine", "intranasal", i) for i in range(n_ei)] + [("ketamine", "iv", i) for i in range(n_iv)]
    for drug, route, i in groups:
        pk = f"{registry}-{route}-{i:03d}"
        first = date(2025, 1, 6) + timedelta(days=i % 20)
        t["patients"].append({"registry_id": registry, "patient_key": pk, "birth_year": 1970 + i % 30,
                              "age_at_enrolment": 40, "sex": "F" if i % 2 else "M", "zip3": "021",
                              "enrolled_on": first - timedelta(days=3), "site_id": "north" if i % 3 else "south",
                              "trd_failed_trials": 3, "diagnosis_icd10": "F33.2"})
        ei = drug == "esketamine"
        for j, d in enumerate(DAYS):
            sid = f"{pk}-s{j}"
            day = first + timedelta(days=d)
            t["sessions"].append({"registry_id": registry, "session_id": sid, "patient_key": pk,
                                  "session_start": _ts(day), "drug": drug, "route": route,
                                  "dose_mg": 84.0 if ei else 40.0, "dose_mg_per_kg": None if ei else 0.5,
                                  "weight_kg": None if ei else 80.0, "infusion_minutes": None if ei else 40,
                                  "devices": 3 if ei else None, "setting": "clinic",
                                  "monitoring_minutes": (100 if plant and ei and j == 0 and i < 15 else 125) if ei else 90})
            if ei:
                rise = plant and j == 0 and i < 25
                t["vitals"].append({"registry_id": registry, "session_id": sid, "timepoint": "pre",
                                    "minutes_after_dose": 0, "sbp": 120, "dbp": 80, "heart_rate": 70, "spo2": 98})
                t["vitals"].append({"registry_id": registry, "session_id": sid, "timepoint": "post40",
                                    "minutes_after_dose": 40, "sbp": 165 if rise else 125, "dbp": 85 if rise else 82,
                                    "heart_rate": 75, "spo2": 97})
                if j == 0:
                    t["assessments"].append({"registry_id": registry, "assessment_id": f"{sid}-cadss", "patient_key": pk,
                                             "session_id": sid, "assessed_at": _ts(day, 9, 40), "instrument": "CADSS",
                                             "total_score": 12 if plant and i < 50 else 2, "minutes_after_dose": 40})
        responder = plant and (i < 60 if ei else i < 40)
        remitter = plant and ei and i < 30
        scores = [(-1, 20), (7, 15), (14, 15)] + [(d, 4 if remitter else 8 if responder else 15) for d in (28, 56, 84)]
        for d, sc in scores:
            t["assessments"].append({"registry_id": registry, "assessment_id": f"{pk}-phq{d}", "patient_key": pk,
                                     "session_id": None, "assessed_at": _ts(first + timedelta(days=d), 8),
                                     "instrument": "PHQ9", "total_score": sc, "minutes_after_dose": None})

        def ae(n, pt, j, serious=False):
            t["adverse_events"].append({"registry_id": registry, "ae_id": f"{pk}-ae{n}", "patient_key": pk,
                                        "session_id": f"{pk}-s{j}", "onset_date": first + timedelta(days=DAYS[j]),
                                        "term": pt.lower(), "meddra_pt": pt, "severity": "severe" if serious else "mild",
                                        "serious": serious, "hospitalization": serious, "death": False,
                                        "life_threatening": False, "disability": False, "congenital_anomaly": False,
                                        "medically_important": False, "related": "possible",
                                        "outcome": "recovered", "resolved_date": None, "meddra_code": None})
        if plant and ei and i < 30:
            ae(1, "Dissociation", 0)
            if i < 10:
                ae(2, "Dissociation", 1)
        if plant and not ei and i < 20:
            ae(1, "Nausea", 0)
        if plant and not ei and 20 <= i < 32:
            ae(3, "Suicide attempt", 10, serious=True)
        if plant and not ei and i < 12:
            t["labs"].append({"registry_id": registry, "lab_id": f"{pk}-alt", "patient_key": pk,
                              "collected_on": first + timedelta(days=30), "test": "ALT", "value": 150.0,
                              "unit": "U/L", "uln": 40.0})
    return t


def _insert(con, table: str, rows: list[dict], load_id: int, exported_at: datetime, op: str = "upsert") -> None:
    if not rows:
        return
    df = pd.DataFrame(rows)
    df["op"] = op
    df["load_id"] = load_id
    df["export_id"] = exported_at.strftime("%Y-%m-%dT%H-%M-%SZ")
    df["exported_at"] = exported_at
    df["loaded_at"] = exported_at
    df["source_file"] = f"{table}.csv"
    df["source_row"] = range(2, len(df) + 2)
    con.register("_rows", df)
    con.execute(f"INSERT INTO history.{table} BY NAME SELECT * FROM _rows")
    con.unregister("_rows")


def _ledger(con, load_id, registry, exported_at, status="loaded", quarantined=0):
    con.execute("INSERT INTO ops.loads (load_id, registry_id, export_id, exported_at, mode, adapter, status, "
                "row_counts, started_at, finished_at) VALUES (?, ?, ?, ?, 'full', 'kor', ?, ?, ?, ?)",
                [load_id, registry, exported_at.strftime("%Y-%m-%dT%H-%M-%SZ"), exported_at, status,
                 '{"sessions": {"read": 100, "loaded": %d, "quarantined": %d}}' % (100 - quarantined, quarantined),
                 exported_at, exported_at + timedelta(minutes=1)])


def refresh_core(con) -> None:
    """core.* = latest version per record over all of history (what the load transaction keeps)."""
    from reports.sources import KEYS

    for table, key in KEYS.items():
        part = ", ".join(["registry_id", *key])
        con.execute(f"DELETE FROM core.{table}")
        con.execute(f"INSERT INTO core.{table} SELECT * EXCLUDE (op) FROM (SELECT * FROM history.{table} "
                    f"QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1) "
                    f"WHERE op = 'upsert'")


def frames_warehouse(path: Path, frames: dict[str, list[dict]], exported_at: datetime, registry: str = "reg-a") -> Path:
    """A warehouse holding `frames` (table -> rows) as one loaded export of `registry`."""
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    for table, rows in frames.items():
        _insert(con, table, rows, 1, exported_at)
    _ledger(con, 1, registry, exported_at)
    refresh_core(con)
    con.close()
    return path


def build_warehouse(path: Path, with_correction: bool = True) -> Path:
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    migrate(con)
    e1 = datetime(2025, 5, 1, 23, tzinfo=timezone.utc)
    a = cohort_frames("reg-a", 100, 80)
    for table, rows in a.items():
        _insert(con, table, rows, 1, e1)
    _ledger(con, 1, "reg-a", e1, quarantined=3)
    con.execute("INSERT INTO ops.quarantine VALUES (1, 'reg-a', 'x', 'sessions', 'sessions.csv', 5, 'dose_range', "
                "'plausibility', 'dose out of range', '{}', ?)", [e1])
    e2 = datetime(2025, 5, 2, 23, tzinfo=timezone.utc)
    b = cohort_frames("reg-b", 5, 0, plant=False)
    for table, rows in b.items():
        _insert(con, table, rows, 2, e2)
    _ledger(con, 2, "reg-b", e2)
    if with_correction:
        e3 = datetime(2025, 5, 15, 23, tzinfo=timezone.utc)
        gone = [r for r in a["adverse_events"] if r["meddra_pt"] == "Nausea"][:1]
        _insert(con, "adverse_events", [{"registry_id": r["registry_id"], "ae_id": r["ae_id"]} for r in gone], 3, e3, op="withdraw")
        _ledger(con, 3, "reg-a", e3)
    refresh_core(con)
    con.close()
    return path
