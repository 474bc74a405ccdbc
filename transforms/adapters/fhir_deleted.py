"""The resources an incremental FHIR Bulk Data export says were deleted, and the records they were.

An export requested with `_since` may list, in its manifest's `deleted` array, NDJSON files of
transaction Bundles whose entries are `request: {method: DELETE, url: "<ResourceType>/<id>"}` (Bulk
Data IG v2, "deleted"). parse() reads them into (resource type, id) pairs; malformed lines and
entries, and entries whose method is not DELETE, are counted by reason and otherwise ignored.

install() maps each deleted resource to the canonical records the adapter made of it, by the ids
the adapter itself uses (sql/fhir_deleted.sql): Patient -> patients (the id is pseudonymised with
every other patient id), AdverseEvent -> adverse_events, Observation -> assessments and labs,
QuestionnaireResponse -> assessments (its own record and, as a companion, the GAD-7 record
"<id>#GAD7" of a combined PHQ-9 + GAD-7 response), Encounter -> sessions it keyed,
MedicationAdministration -> the session it keyed (one without an Encounter: "MedicationAdministration/<id>",
and, as a companion, "<id>" as such a session was keyed before it had its own id). The rest cannot be
mapped to a record with certainty and are counted as skipped (see SKIPPED). The result is one work table
deleted_<table>(key, min_row, max_row, companion) per table; the ingest turns it into listed_<table>
and the load withdraws those records (warehouse/sql/load/withdraw_listed.sql). A companion is a
record the deleted resource made only if it was of a kind (a combined response's second record, an
older load's key): it is withdrawn when the warehouse has it and otherwise neither listed nor
reported as missing.

Reasons never hold an id, only resource types and fixed words: they are logged and kept in the load.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow as pa

from transforms.adapters import fhir_questionnaire

PREFIX = "deleted "
# FHIR ids: [A-Za-z0-9\-\.]{1,64}; resource types are capitalised names
_TYPE_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]{1,63})/([A-Za-z0-9\-.]{1,64})$")
# the tables a deletion can name (sql/fhir_deleted.sql makes deleted_<table> for each); vitals rows
# merge several Observations, so no one deletion is a vitals record
TABLES = ("patients", "sessions", "assessments", "adverse_events", "labs")
# types the adapter reads, whose deletion is not one record's: why it is not applied
SKIPPED = {
    "Medication": "not a record of its own (it names a session's drug)",
    "Condition": "not a record of its own (a patient's diagnosis): corrected when the patient is next exported",
}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}


def _count(skipped: dict[str, int], reason: str, n: int = 1) -> None:
    skipped[PREFIX + reason] = skipped.get(PREFIX + reason, 0) + n


def type_and_id(url) -> tuple[str, str] | None:
    """("Observation", "123") from "Observation/123", a versioned "Observation/123/_history/2" or an
    absolute URL ending so; None for anything else (a conditional delete "Observation?code=..." names
    no resource)."""
    if not isinstance(url, str) or "?" in url or "#" in url:
        return None
    url = re.sub(r"/_history/[^/]*$", "", url.strip().rstrip("/"))
    m = _TYPE_ID.search(url)
    return (m.group(1), m.group(2)) if m else None


def parse_lines(lines, skipped: dict[str, int]) -> list[tuple[str, str]]:
    """(type, id) of every DELETE entry of the Bundles on these NDJSON lines, in order, once each."""
    out: dict[tuple[str, str], None] = {}
    for line in lines:
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            _count(skipped, "file: line not JSON")
            continue
        if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
            _count(skipped, "file: line not a Bundle")
            continue
        entries = doc.get("entry")
        if not isinstance(entries, list) or not entries:
            _count(skipped, "Bundle without entries")
            continue
        for entry in entries:
            request = entry.get("request") if isinstance(entry, dict) else None
            if not isinstance(request, dict):
                _count(skipped, "Bundle entry without a request")
                continue
            method = request.get("method")
            if not isinstance(method, str) or method.upper() != "DELETE":
                m = method.upper() if isinstance(method, str) and method.upper() in _METHODS else "other"
                _count(skipped, f"Bundle entry with method {m} ignored (only DELETE is read)")
                continue
            ref = type_and_id(request.get("url"))
            if ref is None:
                _count(skipped, "Bundle entry whose url is not <ResourceType>/<id>")
                continue
            out.setdefault(ref, None)
    return list(out)


def parse(paths: list[Path], skipped: dict[str, int]) -> list[tuple[str, str]]:
    refs: dict[tuple[str, str], None] = {}
    for p in paths:
        with p.open(encoding="utf-8", errors="replace") as fh:
            for ref in parse_lines(fh, skipped):
                refs.setdefault(ref, None)
    return list(refs)


def install(con, refs: list[tuple[str, str]], skipped: dict[str, int], sql_path: Path, qr_line_offset: int) -> int:
    """fhir_deleted(rtype, id) and deleted_<table> from the deleted resources; counts what is not
    mapped in `skipped`. Needs the adapter's output tables (fhir_out_*, fhir_sessions). Returns the
    number of deleted resources read."""
    con.register("_fhir_deleted_arrow", pa.table({"rtype": pa.array([r[0] for r in refs], pa.string()),
                                                  "id": pa.array([r[1] for r in refs], pa.string())}))
    try:
        con.execute("CREATE OR REPLACE TEMP TABLE fhir_deleted AS SELECT * FROM _fhir_deleted_arrow")
    finally:
        con.unregister("_fhir_deleted_arrow")
    con.execute("SET VARIABLE fhir_qr_line_offset = ?", [qr_line_offset])
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_qr_companions (suffix VARCHAR, min_row BIGINT)")
    con.executemany("INSERT INTO fhir_qr_companions VALUES (?, ?)",
                    [(suffix, (k + 1) * qr_line_offset) for suffix, k in fhir_questionnaire.companions()])
    con.execute(sql_path.read_text())
    for rtype, n in con.execute("SELECT rtype, count(*) FROM fhir_deleted_unmapped GROUP BY 1 ORDER BY 1").fetchall():
        _count(skipped, f"{rtype}: " + SKIPPED.get(rtype, "no table reads it"), n)
    for rtype, n in con.execute("SELECT rtype, count(*) FROM fhir_deleted_in_output GROUP BY 1 ORDER BY 1").fetchall():
        _count(skipped, f"{rtype}: also in this export's output (the IG forbids both); the output is kept", n)
    return len(refs)
