"""An incremental FHIR Bulk export's `deleted` files: which records each deleted resource names, and
what is counted instead of guessed (malformed Bundles, other methods, types no record is made of)."""
from __future__ import annotations

import json

from adapter_helpers import deletion_bundle, ndjson_export, read_export

from transforms import split
from transforms.adapters import fhir_deleted
from transforms.adapters.fhir import QR_LINE_OFFSET
from transforms.pseudonymise import build_key_map, patient_key

MAX = 9223372036854775807
PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-01"}
OBS = {"resourceType": "Observation", "id": "obs-1", "status": "final",
       "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
       "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-10T10:00:00Z", "valueInteger": 7}


def _deleted(ws, table: str) -> list[tuple]:
    return ws.execute(f"SELECT key, min_row, max_row FROM deleted_{table} ORDER BY key").fetchall()


def _skipped(reads) -> dict[str, int]:
    return {k: v for k, v in reads["patients"].skipped.items() if k.startswith(fhir_deleted.PREFIX)}


def test_urls_name_a_resource_relative_absolute_or_versioned():
    assert fhir_deleted.type_and_id("Observation/123") == ("Observation", "123")
    assert fhir_deleted.type_and_id("https://ehr.invalid/fhir/R4/AdverseEvent/ae-1.b") == ("AdverseEvent", "ae-1.b")
    assert fhir_deleted.type_and_id("Patient/p9/_history/3") == ("Patient", "p9")
    for bad in ("Observation?code=44261-6", "Observation", "observation/1", "Patient/", "Patient/a b", None, 7,
                "Patient/" + "x" * 65):
        assert fhir_deleted.type_and_id(bad) is None, bad


def test_only_delete_entries_are_read_and_every_malformed_part_is_counted():
    skipped: dict[str, int] = {}
    lines = [
        json.dumps(deletion_bundle("AdverseEvent/ae-1", "Observation/o-1")),
        json.dumps(deletion_bundle("AdverseEvent/ae-2", method="PUT")),
        json.dumps({**deletion_bundle("Patient/p1"), "entry": [{"request": {"method": "delete", "url": "Patient/p1"}},
                                                               {"fullUrl": "Patient/p2"}, "not an entry",
                                                               {"request": {"method": "DELETE", "url": "Patient?x=1"}},
                                                               {"request": {"method": "FROB", "url": "Patient/p3"}}]}),
        json.dumps(deletion_bundle("AdverseEvent/ae-1")),  # listed twice: once
        "", "{not json", json.dumps({"resourceType": "Patient", "id": "p1"}), json.dumps([1]),
        json.dumps({"resourceType": "Bundle", "type": "transaction"}),
    ]
    refs = fhir_deleted.parse_lines(lines, skipped)
    assert refs == [("AdverseEvent", "ae-1"), ("Observation", "o-1"), ("Patient", "p1")]
    p = fhir_deleted.PREFIX
    assert skipped == {
        p + "Bundle entry with method PUT ignored (only DELETE is read)": 1,
        p + "Bundle entry with method other ignored (only DELETE is read)": 1,
        p + "Bundle entry without a request": 2,
        p + "Bundle entry whose url is not <ResourceType>/<id>": 1,
        p + "file: line not JSON": 1,
        p + "file: line not a Bundle": 2,
        p + "Bundle without entries": 1,
    }
    assert not any("p2" in k or "p3" in k or "ae-" in k for k in skipped)  # reasons never hold an id


def test_deleted_resources_map_to_the_records_the_adapter_made_of_them(tmp_path, ws):
    gone = deletion_bundle("Patient/p9", "AdverseEvent/ae-9", "Observation/obs-9", "QuestionnaireResponse/qr-9",
                           "Encounter/enc-9", "MedicationAdministration/ma-9", "Condition/c-9", "Medication/m-9",
                           "Procedure/pr-9", "Procedure/pr-8")
    export = ndjson_export(tmp_path / "e", [PATIENT, OBS], deleted=[gone], since="2026-01-01T00:00:00Z")
    bundle, reads = read_export(ws, "fhir", export, registry_id="r")
    assert bundle.mode == "incremental"
    assert _deleted(ws, "patients") == [("p9", 0, MAX)]
    assert _deleted(ws, "adverse_events") == [("ae-9", 0, MAX)]
    # an Observation id names an assessment only if an Observation made it; a response's, only a response's:
    # its own, and the GAD-7 of a combined PHQ-9 + GAD-7 response (withdrawn if there, never counted if not)
    assert ws.execute("SELECT key, min_row, max_row, companion FROM deleted_assessments ORDER BY key").fetchall() == [
        ("obs-9", 0, QR_LINE_OFFSET - 1, False), ("qr-9", QR_LINE_OFFSET, MAX, False),
        ("qr-9#GAD7", 2 * QR_LINE_OFFSET, MAX, True)]
    assert split.listed_keys(ws, "assessments", "deleted_assessments") == 2  # the companion is not counted
    assert _deleted(ws, "labs") == [("obs-9", 0, MAX)]
    # a session is keyed by its Encounter, or (none named) by its one administration: each deletion
    # names only the sessions its type keyed (ids are unique per type only); an administration's
    # session is "MedicationAdministration/<id>", and "<id>" in its band as loaded before it had its
    # own id (a companion: withdrawn if there, never counted if not)
    assert ws.execute("SELECT key, min_row, max_row, companion FROM deleted_sessions ORDER BY key").fetchall() == [
        ("MedicationAdministration/ma-9", QR_LINE_OFFSET, MAX, False), ("enc-9", 0, QR_LINE_OFFSET - 1, False),
        ("ma-9", QR_LINE_OFFSET, MAX, True)]
    assert split.listed_keys(ws, "sessions", "deleted_sessions") == 2
    assert {t: r.deleted_table for t, r in reads.items()} == {
        "patients": "deleted_patients", "sessions": "deleted_sessions", "vitals": None,
        "assessments": "deleted_assessments", "adverse_events": "deleted_adverse_events", "labs": "deleted_labs"}
    p = fhir_deleted.PREFIX
    got = _skipped(reads)
    assert got[p + "Condition: " + fhir_deleted.SKIPPED["Condition"]] == 1
    assert got[p + "Medication: " + fhir_deleted.SKIPPED["Medication"]] == 1
    assert got[p + "Procedure: no table reads it"] == 2
    assert len(got) == 3, got


def test_a_resource_both_deleted_and_in_the_output_is_kept_as_the_output_has_it(tmp_path, ws):
    # The IG: deleted resources SHALL NOT appear in the output. One that does is kept (counted): the
    # output is the state at transactionTime. So is a record the output makes under a deleted
    # resource's key: the session of an Encounter whose administration this export holds.
    ma = {"resourceType": "MedicationAdministration", "id": "ma-1", "status": "completed",
          "medicationCodeableConcept": {"text": "ketamine"}, "subject": {"reference": "Patient/p1"},
          "context": {"reference": "Encounter/enc-1"}, "effectiveDateTime": "2026-01-10T09:00:00Z",
          "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                     "dose": {"value": 35, "unit": "mg"}}}
    gone = deletion_bundle("Observation/obs-1", "Patient/p1", "Encounter/enc-1", "AdverseEvent/ae-2")
    export = ndjson_export(tmp_path / "e", [PATIENT, OBS, ma], deleted=[gone], since="2026-01-01T00:00:00Z")
    _, reads = read_export(ws, "fhir", export, registry_id="r")
    assert _deleted(ws, "assessments") == [] and _deleted(ws, "labs") == []
    assert _deleted(ws, "patients") == [] and _deleted(ws, "sessions") == []
    assert _deleted(ws, "adverse_events") == [("ae-2", 0, MAX)]
    p = fhir_deleted.PREFIX
    reason = ": also in this export's output (the IG forbids both); the output is kept"
    assert _skipped(reads) == {p + "Observation" + reason: 1, p + "Patient" + reason: 1, p + "Encounter" + reason: 1}


def test_a_deleted_patient_is_listed_by_its_key_never_its_id(tmp_path, ws):
    export = ndjson_export(tmp_path / "e", [PATIENT], deleted=[deletion_bundle("Patient/MRN-77")],
                           since="2026-01-01T00:00:00Z")
    _, reads = read_export(ws, "fhir", export, registry_id="r")
    key = b"unit-test-key-0123456789abcdef"
    build_key_map(ws, key, "r", list(reads))
    assert split.listed_keys(ws, "patients", "deleted_patients") == 1
    assert ws.execute("SELECT * FROM listed_patients").fetchall() == [(patient_key(key, "r", "MRN-77"), 0, MAX, False)]
    assert split.listed_keys(ws, "adverse_events", "deleted_adverse_events") == 0


def test_a_missing_deleted_file_rejects_the_export(tmp_path, ws):
    import pytest

    from transforms.bundle import BundleError

    export = ndjson_export(tmp_path / "e", [PATIENT], deleted=[deletion_bundle("Patient/p1")])
    (export / "Bundle.deleted.000.ndjson").unlink()
    with pytest.raises(BundleError, match="deleted file listed in the manifest is missing"):
        read_export(ws, "fhir", export, registry_id="r")


def test_an_export_of_deletions_only_opens_and_reads(tmp_path, ws):
    export = ndjson_export(tmp_path / "e", [], deleted=[deletion_bundle("AdverseEvent/ae-1")],
                           since="2026-01-01T00:00:00Z")
    _, reads = read_export(ws, "fhir", export, registry_id="r")
    assert reads["adverse_events"].rows == 0 and _deleted(ws, "adverse_events") == [("ae-1", 0, MAX)]


def test_a_manifest_listing_deletions_is_incremental_even_without_since(tmp_path, ws):
    """A POST kick-off leaves _since out of the manifest's `request`: read as a full export, a
    manifest of deletions only withdrew every record of the registry (review, session 7)."""
    export = ndjson_export(tmp_path / "e", [], deleted=[deletion_bundle("AdverseEvent/ae-1")])
    bundle, _ = read_export(ws, "fhir", export, registry_id="r")
    assert bundle.mode == "incremental"


def test_a_full_export_cannot_list_deletions_or_hold_no_resources(tmp_path, ws):
    import pytest

    from transforms.bundle import BundleError

    export = ndjson_export(tmp_path / "e", [PATIENT], deleted=[deletion_bundle("AdverseEvent/ae-1")])
    (export / "export.json").write_text(json.dumps({"registry_id": "r", "mode": "full"}))
    with pytest.raises(BundleError, match="lists deleted resources"):
        read_export(ws, "fhir", export)
    empty = ndjson_export(tmp_path / "f", [])
    (empty / "export.json").write_text(json.dumps({"registry_id": "r", "mode": "full"}))
    (empty / "x.ndjson").write_text("")
    with pytest.raises(BundleError):
        read_export(ws, "fhir", empty)


def test_a_deleted_encounter_is_not_kept_for_an_administrations_session_of_the_same_id(tmp_path, ws):
    # Encounter "7" deleted while the output holds MedicationAdministration "7", given without an
    # Encounter: ids are unique per type only, so the administration's session is not the Encounter's
    # and the deletion is applied (it was taken for "also in the output" and kept).
    ma = {"resourceType": "MedicationAdministration", "id": "7", "status": "completed",
          "medicationCodeableConcept": {"text": "ketamine"}, "subject": {"reference": "Patient/p1"},
          "effectiveDateTime": "2026-01-10T09:00:00Z",
          "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
                     "dose": {"value": 35, "unit": "mg"}}}
    export = ndjson_export(tmp_path / "e", [PATIENT, ma], deleted=[deletion_bundle("Encounter/7")],
                           since="2026-01-01T00:00:00Z")
    _, reads = read_export(ws, "fhir", export, registry_id="r")
    assert ws.execute("SELECT session_id FROM fhir_sessions").fetchall() == [("MedicationAdministration/7",)]
    assert _deleted(ws, "sessions") == [("7", 0, QR_LINE_OFFSET - 1)]
    assert _skipped(reads) == {}
