"""The FHIR adapter on real Bulk Data NDJSON and the FHIR R4 example resources."""
from __future__ import annotations

import json
import shutil

import pytest
from adapter_helpers import ndjson_export, read_export, rows

from transforms.bundle import BundleError

EXAMPLES = ["Patient-example.json", "MedicationAdministration-example.json",
            "MedicationAdministration-negation-example.json", "QuestionnaireResponse-phq-9-questionnaireresponse.json",
            "Observation-blood-pressure.json", "Observation-bp-data-absent.json", "Observation-heart-rate.json",
            "Observation-oxygen-saturation.json", "Observation-weight.json", "Observation-vitals-panel.json",
            "Observation-respiratory-rate.json", "AdverseEvent-example.json", "Questionnaire-phq-9-questionnaire.json"]

# Added by the test (the examples hold no ketamine dose on the day their vitals were taken): a
# completed IV ketamine administration in Encounter/1036, the encounter the data-absent BP names.
KETAMINE_DOSE = {
    "resourceType": "MedicationAdministration", "id": "ketamine-dose", "status": "completed",
    "medicationCodeableConcept": {"text": "Ketamine hydrochloride 50 mg/mL injection"},
    "subject": {"reference": "Patient/example"}, "context": {"reference": "Encounter/1036"},
    "effectivePeriod": {"start": "1999-07-02T09:00:00+00:00", "end": "1999-07-02T09:40:00+00:00"},
    "dosage": {"route": {"coding": [{"system": "http://snomed.info/sct", "code": "47625008"}]},
               "dose": {"value": 35, "unit": "mg", "code": "mg"}},
}


@pytest.fixture
def r4(real, tmp_path):
    resources = [json.loads((real / "fhir-r4-examples" / n).read_text()) for n in EXAMPLES]
    return ndjson_export(tmp_path / "r4", resources + [KETAMINE_DOSE])


def test_phq9_questionnaire_response_total_3_without_item_9(r4, ws):
    read_export(ws, "fhir", r4, registry_id="r4")
    got = rows(ws, "assessments", "assessment_id, patient_id, instrument, total_score, item_scores, assessed_at")
    assert got == [("phq-9-questionnaireresponse", "example", "PHQ9", "3", None, "2021-09-13T16:29:00-07:00")]


def test_not_done_administration_makes_no_session(r4, ws):
    bundle, res = read_export(ws, "fhir", r4, registry_id="r4")
    got = rows(ws, "sessions", "session_id, patient_id, drug, route, dose_mg, infusion_minutes")
    assert ("1036", "example", "ketamine", "iv", "35.0", "40") in got
    assert len(got) == 2  # the completed example (Encounter/example) and the test's dose; not the not-done one
    assert res["sessions"].skipped["MedicationAdministration/not-done"] == 1


def test_bp_panel_becomes_vitals_and_data_absent_is_not_a_number(r4, ws):
    read_export(ws, "fhir", r4, registry_id="r4")
    got = rows(ws, "vitals", "session_id, timepoint, minutes_after_dose, sbp, dbp, heart_rate, spo2")
    # blood-pressure (no encounter link, same day) and bp-data-absent (Encounter/1036) share a time
    assert len(got) == 1
    sid, tp, minutes, sbp, dbp, hr, spo2 = got[0]
    assert (sid, tp, minutes, sbp, hr) == ("1036", "pre", "0", "109", "44")
    assert dbp == "44"  # from the full panel; the data-absent panel's diastolic gave no value
    # the data-absent component alone yields NULL, never a number
    absent = ws.execute("SELECT value FROM fhir_obs WHERE id = 'bp-data-absent' AND code = '8462-4'").fetchall()
    assert absent == [(None,)]


def test_patient_keeps_no_identifiers(r4, ws):
    read_export(ws, "fhir", r4, registry_id="r4")
    got = rows(ws, "patients")
    assert got == [(1, "example", None, "1974", "M", "844", "1999-07-02", "example", None, None)]  # site: managingOrganization
    dump = str(got)
    for ident in ("Chalmers", "Erewhon", "5555", "12345", "1974-12-25", "84414"):
        assert ident not in dump


def test_adverse_event_and_unused_types(r4, ws):
    _, res = read_export(ws, "fhir", r4, registry_id="r4")
    got = rows(ws, "adverse_events", "ae_id, patient_id, onset_date, term, serious")
    assert got == [("example", "example", "2017-01-29", "O/E - itchy rash", "0")]
    assert res["patients"].skipped["Questionnaire"] == 1
    assert res["patients"].skipped["Observation/unused code"] == 2  # respiratory rate and the panel


def test_bulk_ndjson_patients_and_skipped_types(real, ws):
    bundle, res = read_export(ws, "fhir", real / "fhir-bulk-ndjson", registry_id="bulk")
    assert bundle.exported_at.isoformat() == "2024-08-06T18:12:57+00:00"  # from log.ndjson
    assert res["patients"].rows == 13
    assert res["patients"].skipped["log.ndjson"] == 4
    assert res["patients"].skipped["Procedure"] == 2056 and res["patients"].skipped["MedicationRequest"] == 1745
    got = rows(ws, "patients", "patient_id, birth_date, birth_year, zip, enrolled_on")
    assert all(p[1] is None and len(p[2]) == 4 and (p[3] is None or len(p[3]) == 3) and p[4] for p in got)


def test_manifest_transaction_time_and_missing_file(r4, tmp_path):
    from transforms import adapters

    b = adapters.get("fhir").open(r4, registry_id="r4")
    assert b.exported_at.isoformat() == "2026-01-31T12:00:00+00:00"
    broken = tmp_path / "broken"
    shutil.copytree(r4, broken)
    (broken / "Patient.000.ndjson").unlink()
    with pytest.raises(BundleError, match="missing"):
        adapters.get("fhir").open(broken, registry_id="r4")


def test_kor_export_is_not_claimed_by_fhir_or_redcap(tmp_path):
    from exports import write_export

    from transforms import adapters

    folder = write_export(tmp_path)
    assert adapters.detect(folder) == "kor"
