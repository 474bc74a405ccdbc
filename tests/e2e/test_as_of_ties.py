"""End-to-end: history.<t>_as_of(L) is the table as core held it right after load L, also when
that load wrote a version of a record and its withdrawal with the same exported_at (found by a
review: a full export of patients only, then an older incremental bringing a new patient's
session; the cascade withdrew the session the same load had made current, and as_of still
showed it)."""
from __future__ import annotations

import copy

import pytest

from exports import BASE, write_export
from flows.ingest import ingest_export
from whquery import query

pytestmark = pytest.mark.e2e

TABLES = ("patients", "sessions", "vitals", "assessments", "adverse_events", "labs")
KEYS = {"patients": "patient_key", "sessions": "session_id", "vitals": "session_id, timepoint, minutes_after_dose",
        "assessments": "assessment_id", "adverse_events": "ae_id", "labs": "lab_id"}


def _core_equals_as_of(wh: str, load: int) -> dict:
    """Per table, the records core holds and as_of(load) does not, and the other way round."""
    out = {}
    for t in TABLES:
        k = KEYS[t]
        core = set(query(wh, f"SELECT {k} FROM core.{t}"))
        as_of = set(query(wh, f"SELECT {k} FROM history.{t}_as_of({load})"))
        if core != as_of:
            out[t] = (sorted(core - as_of), sorted(as_of - core))
    return out


def test_as_of_agrees_with_core_when_one_load_upserts_and_withdraws_a_record(tmp_path, wh):
    first = {"patients": [BASE["patients"][0]]}  # a full export of patients only: MRN-1001
    r1 = ingest_export(str(write_export(tmp_path / "a", first, export_id="mar-full",
                                        exported_at="2025-03-31T23:00:00Z", mode="full")), warehouse=wh)
    assert r1["status"] == "loaded" and _core_equals_as_of(wh, 1) == {}
    p3 = {**BASE["patients"][0], "patient_id": "MRN-1003"}
    s3 = {**BASE["sessions"][0], "session_id": "S3", "patient_id": "MRN-1003"}
    older = {"patients": [p3], "sessions": [s3]}  # older than the full export, which did not hold MRN-1003
    r2 = ingest_export(str(write_export(tmp_path / "b", copy.deepcopy(older), export_id="feb-incr",
                                        exported_at="2025-02-28T23:00:00Z", mode="incremental")), warehouse=wh)
    assert r2["status"] == "loaded"
    assert query(wh, "SELECT count(*) FROM core.sessions") == [(0,)]  # the patient was gone by March
    assert _core_equals_as_of(wh, 2) == {}
