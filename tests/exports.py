"""Build small contract exports in tests, file by file, so each test states exactly what it sends."""
from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PATIENTS = [
    {"patient_id": "MRN-1001", "birth_date": "1970-04-02", "sex": "F", "zip": "02139", "enrolled_on": "2025-01-05",
     "site_id": "north", "trd_failed_trials": "3", "diagnosis_icd10": "F33.2"},
    {"patient_id": "MRN-1002", "birth_date": "1985-11-20", "sex": "M", "zip": "94110", "enrolled_on": "2025-01-06",
     "site_id": "north", "trd_failed_trials": "2", "diagnosis_icd10": "F32.2"},
]
SESSIONS = [
    {"session_id": "S1", "patient_id": "MRN-1001", "session_start": "2025-01-10T09:00:00Z", "drug": "esketamine",
     "route": "intranasal", "dose_mg": "56", "devices": "2", "setting": "clinic", "monitoring_minutes": "125"},
    {"session_id": "S2", "patient_id": "MRN-1002", "session_start": "2025-01-11T10:00:00Z", "drug": "ketamine",
     "route": "iv", "dose_mg": "40", "dose_mg_per_kg": "0.5", "weight_kg": "80", "infusion_minutes": "40",
     "setting": "clinic", "monitoring_minutes": "90"},
]
VITALS = [
    {"session_id": "S1", "timepoint": "pre", "minutes_after_dose": "0", "sbp": "122", "dbp": "78", "heart_rate": "70", "spo2": "98"},
    {"session_id": "S1", "timepoint": "post40", "minutes_after_dose": "40", "sbp": "138", "dbp": "86", "heart_rate": "76", "spo2": "97"},
    {"session_id": "S2", "timepoint": "pre", "minutes_after_dose": "0", "sbp": "118", "dbp": "75", "heart_rate": "66", "spo2": "99"},
]
ASSESSMENTS = [
    {"assessment_id": "A1", "patient_id": "MRN-1001", "assessed_at": "2025-01-09T09:00:00Z", "instrument": "PHQ9",
     "total_score": "20", "item_scores": "3;3;2;2;2;2;2;2;2"},
    {"assessment_id": "A2", "patient_id": "MRN-1001", "session_id": "S1", "assessed_at": "2025-01-10T09:40:00Z",
     "instrument": "CADSS", "total_score": "12", "minutes_after_dose": "40"},
    {"assessment_id": "A3", "patient_id": "MRN-1002", "assessed_at": "2025-01-10T08:00:00Z", "instrument": "MADRS",
     "total_score": "32"},
]
ADVERSE_EVENTS = [
    {"ae_id": "E1", "patient_id": "MRN-1001", "session_id": "S1", "onset_date": "2025-01-10", "term": "felt detached",
     "meddra_pt": "Dissociation", "severity": "mild", "serious": "0", "related": "probable", "outcome": "recovered",
     "resolved_date": "2025-01-10"},
]
LABS = [
    {"lab_id": "L1", "patient_id": "MRN-1002", "collected_on": "2025-01-11", "test": "ALT", "value": "30", "unit": "U/L", "uln": "40"},
]
BASE = {"patients": PATIENTS, "sessions": SESSIONS, "vitals": VITALS, "assessments": ASSESSMENTS,
        "adverse_events": ADVERSE_EVENTS, "labs": LABS}


def csv_bytes(rows: list[dict], header: list[str] | None = None, newline: str = "\n", bom: bool = False) -> bytes:
    header = header or list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator=newline)
    w.writerow(header)
    for r in rows:
        w.writerow([r.get(h, "") for h in header])
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


def parquet_bytes(rows: list[dict]) -> bytes:
    header = list(dict.fromkeys(k for r in rows for k in r))
    table = pa.table({h: [r.get(h) for r in rows] for h in header})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def write_export(root: Path, tables: dict | None = None, *, registry: str = "test-registry",
                 export_id: str = "2025-01-31T23-00-00Z", exported_at: str = "2025-01-31T23:00:00Z",
                 mode: str = "full", fmt: str = "csv", raw_files: dict[str, bytes] | None = None,
                 manifest_overrides: dict | None = None, rows_override: dict | None = None) -> Path:
    """Write an export folder. raw_files: table -> exact bytes (its row count is counted by lines)."""
    tables = BASE if tables is None else tables
    folder = root / export_id
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for table, rows in tables.items():
        if raw_files and table in raw_files:
            data = raw_files[table]
            name = f"{table}.csv"
            count = None
        elif fmt == "parquet":
            data, name, count = parquet_bytes(rows), f"{table}.parquet", len(rows)
        else:
            data, name, count = csv_bytes(rows), f"{table}.csv", len(rows)
            if fmt == "csv.gz":
                data, name = gzip.compress(data, mtime=0), f"{table}.csv.gz"
        (folder / name).write_bytes(data)
        if count is None:
            count = (rows_override or {}).get(table, len(rows))
        files.append({"table": table, "path": name, "sha256": hashlib.sha256(data).hexdigest(), "rows": count})
    manifest = {"contract": "ketamine-outcomes-export/1", "registry_id": registry, "export_id": export_id,
                "exported_at": exported_at, "mode": mode, "files": files}
    manifest.update(manifest_overrides or {})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder


def rehash(folder: Path) -> None:
    """Recompute sha256 in the manifest after a test edited a file on purpose."""
    m = json.loads((folder / "manifest.json").read_text())
    for f in m["files"]:
        f["sha256"] = hashlib.sha256((folder / f["path"]).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(m, indent=2))
