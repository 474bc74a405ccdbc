"""The FHIR adapter on small synthetic exports: how R4 codings, references and resource mixes map."""
from __future__ import annotations

import json

from adapter_helpers import ndjson_export, read_export, rows

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-05-01"}


def _phq9_obs(oid: str, total: int) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "44261-6"}]},
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-10T10:00:00Z",
            "valueInteger": total}


def _qr(qid: str, status: str = "completed", total: int | None = 5, questionnaire: str = "Questionnaire/phq-9") -> dict:
    items = [] if total is None else [{"linkId": "44261-6", "answer": [{"valueInteger": total}]}]
    return {"resourceType": "QuestionnaireResponse", "id": qid, "status": status, "questionnaire": questionnaire,
            "subject": {"reference": "Patient/p1"}, "authored": "2026-01-11T10:00:00Z", "item": items}


def _ae(aid: str, **extra) -> dict:
    ae = {"resourceType": "AdverseEvent", "id": aid, "actuality": "actual", "event": {"text": "nausea"},
          "subject": {"reference": "Patient/p1"}, "date": "2026-01-10T12:00:00Z"}
    ae.update(extra)
    return ae


def test_questionnaire_rows_do_not_share_lines_with_observation_rows(tmp_path, ws):
    # Staging deletes a table's quarantined rows by _line: a PHQ-9 QuestionnaireResponse on line 1 of
    # its file and a PHQ-9 Observation on line 1 of its own must not both be assessments line 1, or
    # quarantining one (here the response, which has no total) drops the other with it.
    export = ndjson_export(tmp_path / "e", [PATIENT, _phq9_obs("obs-1", 7), _qr("qr-1", total=None)])
    read_export(ws, "fhir", export, registry_id="r")
    got = rows(ws, "assessments", "_line, assessment_id")
    assert {r[1] for r in got} == {"obs-1", "qr-1"}
    assert len({r[0] for r in got}) == 2, got


def _coding(system: str, code: str) -> dict:
    return {"coding": [{"system": system, "code": code}]}


SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
CAUSALITY = "http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess"


def test_r4_seriousness_criterion_codes_make_a_serious_event_with_its_criterion(tmp_path, ws):
    # R4's AdverseEventSeriousness has level-2 codes naming the ICH E2A criterion; an event coded
    # SeriousResultsInDeath must load as serious with death set, not as of unknown seriousness.
    codes = {"SeriousResultsInDeath": "death", "SeriousIsLifeThreatening": "life_threatening",
             "SeriousResultsInHospitalization": "hospitalization", "SeriousResultsInDisability": "disability",
             "SeriousIsBirthDefect": "congenital_anomaly", "SeriousRequiresPreventImpairment": "medically_important"}
    aes = [_ae(f"ae-{i}", seriousness=_coding(SERIOUSNESS, code)) for i, code in enumerate(codes)]
    aes.append(_ae("ae-plain", seriousness=_coding(SERIOUSNESS, "Serious")))
    aes.append(_ae("ae-non", seriousness=_coding(SERIOUSNESS, "Non-serious")))
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, *aes]), registry_id="r")
    cols = "ae_id, serious, death, life_threatening, hospitalization, disability, congenital_anomaly, medically_important"
    got = {r[0]: r[1:] for r in rows(ws, "adverse_events", cols)}
    names = ["death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"]
    for i, criterion in enumerate(codes.values()):
        serious, *flags = got[f"ae-{i}"]
        assert serious == "1", (criterion, got[f"ae-{i}"])
        assert dict(zip(names, flags))[criterion] == "1", (criterion, got[f"ae-{i}"])
    assert got["ae-plain"][0] == "1" and got["ae-non"][0] == "0"


def test_r4_who_umc_causality_codes_map_to_the_contract(tmp_path, ws):
    # R4's causality assessment codes (WHO-UMC) are not the contract's words; "certain" or
    # "probably-likely" would fail adverse_events.related.code and quarantine the safety event.
    want = {"Certain": "definite", "Probably-Likely": "probable", "Possible": "possible", "Unlikely": "unlikely",
            "Conditional-Classified": None, "Unassessable-Unclassifiable": None}
    aes = [_ae(f"ae-{i}", suspectEntity=[{"instance": {"reference": "Medication/k"},
                                          "causality": [{"assessment": _coding(CAUSALITY, code)}]}])
           for i, code in enumerate(want)]
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, *aes]), registry_id="r")
    got = dict(rows(ws, "adverse_events", "ae_id, related"))
    assert got == {f"ae-{i}": v for i, v in enumerate(want.values())}


def test_export_requested_with_since_is_incremental(tmp_path):
    # A Bulk Data manifest's `request` is the kick-off URL. An export pulled with _since holds only
    # what changed: opened as a full export it would withdraw every record it does not carry.
    from transforms import adapters

    export = ndjson_export(tmp_path / "e", [PATIENT])
    manifest = json.loads((export / "manifest.json").read_text())
    manifest["request"] = "https://ehr.invalid/fhir/Group/g1/$export?_type=Patient&_since=2026-01-01T00:00:00Z"
    (export / "manifest.json").write_text(json.dumps(manifest))
    assert adapters.get("fhir").open(export, registry_id="r").mode == "incremental"
    manifest["request"] = "https://ehr.invalid/fhir/Group/g1/$export?_type=Patient"
    (export / "manifest.json").write_text(json.dumps(manifest))
    assert adapters.get("fhir").open(export, registry_id="r").mode == "full"
    # no manifest: the kick-off URL the server logged
    (export / "manifest.json").unlink()
    (export / "log.ndjson").write_text(json.dumps({"eventId": "kickoff", "eventDetail": {
        "exportUrl": "https://ehr.invalid/fhir/$export?_since=2026-01-01T00%3A00%3A00Z"}}) + "\n")
    assert adapters.get("fhir").open(export, registry_id="r").mode == "incremental"


def test_versioned_and_absolute_references_name_the_resource_not_its_version(tmp_path, ws):
    # Patient/p1/_history/2 is patient p1 (version 2), not a patient "2".
    dose = {"resourceType": "MedicationAdministration", "id": "ma-1", "status": "completed",
            "medicationCodeableConcept": {"text": "Ketamine"}, "subject": {"reference": "Patient/p1/_history/2"},
            "context": {"reference": "https://ehr.invalid/fhir/Encounter/enc-1/_history/5"},
            "effectivePeriod": {"start": "2026-01-10T09:00:00Z", "end": "2026-01-10T09:40:00Z"},
            "dosage": {"route": _coding("http://snomed.info/sct", "47625008"), "dose": {"value": 35, "code": "mg"}}}
    obs = _phq9_obs("obs-1", 7)
    obs["subject"] = {"reference": "Patient/p1/_history/3"}
    qr = _qr("qr-1")
    qr["subject"] = {"reference": "Patient/p1/_history/4"}
    ae = _ae("ae-1", subject={"reference": "Patient/p1/_history/1"})
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, dose, obs, qr, ae]), registry_id="r")
    assert rows(ws, "sessions", "session_id, patient_id") == [("enc-1", "p1")]
    assert {r[0] for r in rows(ws, "assessments", "patient_id")} == {"p1"}
    assert rows(ws, "adverse_events", "patient_id") == [("p1",)]


def test_resources_of_used_types_that_make_no_row_are_counted(tmp_path, ws):
    # Every resource either becomes a row or is counted in skipped with why: an in-progress
    # QuestionnaireResponse, one of an instrument the adapter does not read, and a potential
    # AdverseEvent make no row.
    resources = [PATIENT, _qr("qr-ok"), _qr("qr-draft", status="in-progress"),
                 _qr("qr-audit", questionnaire="Questionnaire/audit-c"), _ae("ae-ok"),
                 _ae("ae-potential", actuality="potential")]
    _, res = read_export(ws, "fhir", ndjson_export(tmp_path / "e", resources), registry_id="r")
    assert res["assessments"].rows == 1 and res["adverse_events"].rows == 1
    skipped = res["assessments"].skipped
    assert skipped.get("QuestionnaireResponse/in-progress") == 1, skipped
    assert skipped.get("QuestionnaireResponse/not a PHQ-9 or GAD-7") == 1, skipped
    assert skipped.get("AdverseEvent/potential") == 1, skipped


def _ketamine_dose(**dosage) -> dict:
    return {"resourceType": "MedicationAdministration", "id": "ma-1", "status": "completed",
            "medicationCodeableConcept": {"text": "Ketamine"}, "subject": {"reference": "Patient/p1"},
            "context": {"reference": "Encounter/enc-1"},
            "effectivePeriod": {"start": "2026-01-10T09:00:00Z", "end": "2026-01-10T09:40:00Z"},
            "dosage": {"route": _coding("http://snomed.info/sct", "47625008"), **dosage}}


def _weight(value: float, code: str) -> dict:
    return {"resourceType": "Observation", "id": f"w-{code}", "status": "final",
            "code": _coding("http://loinc.org", "29463-7"), "subject": {"reference": "Patient/p1"},
            "encounter": {"reference": "Encounter/enc-1"}, "effectiveDateTime": "2026-01-10T08:50:00Z",
            "valueQuantity": {"value": value, "unit": code, "system": "http://unitsofmeasure.org", "code": code}}


def test_body_weight_in_pounds_or_grams_becomes_kilograms(tmp_path, ws):
    # US Core's weight examples are in [lb_av]. Dropping it leaves a mg/kg session without weight,
    # which sessions.weight_kg.required_for_mg_per_kg quarantines.
    for code, value, kg in (("[lb_av]", 176.37, 80.0), ("g", 80000, 80.0), ("kg", 80, 80.0)):
        export = ndjson_export(tmp_path / code.strip("[]"), [
            PATIENT, _ketamine_dose(dose={"value": 0.5, "code": "mg/kg"}), _weight(value, code)])
        read_export(ws, "fhir", export, registry_id="r")
        (dose, weight), = rows(ws, "sessions", "dose_mg_per_kg, weight_kg")
        assert dose == "0.5" and weight is not None and abs(float(weight) - kg) < 0.01, (code, weight)


def test_dose_in_grams_or_micrograms_becomes_milligrams(tmp_path, ws):
    for code, value in (("g", 0.035), ("ug", 35000), ("mg", 35)):
        export = ndjson_export(tmp_path / code, [PATIENT, _ketamine_dose(dose={"value": value, "code": code})])
        read_export(ws, "fhir", export, registry_id="r")
        (dose,), = rows(ws, "sessions", "dose_mg")
        assert dose is not None and abs(float(dose) - 35) < 1e-6, (code, dose)


def _vital(oid: str, code: str, value: int, when: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": _coding("http://loinc.org", code),
            "subject": {"reference": "Patient/p1"}, "encounter": {"reference": "Encounter/enc-1"},
            "effectiveDateTime": when, "valueQuantity": {"value": value}}


def test_vitals_charted_seconds_apart_make_one_row_per_minute(tmp_path, ws):
    # Vitals are keyed by (session, time point, minutes after dose): a heart rate charted 35 s after
    # the blood pressure of the same minute made a second row with the same key, and
    # vitals.timepoint.unique quarantined both.
    export = ndjson_export(tmp_path / "e", [
        PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}),
        _vital("sbp", "8480-6", 150, "2026-01-10T09:40:05Z"), _vital("dbp", "8462-4", 90, "2026-01-10T09:40:05Z"),
        _vital("hr", "8867-4", 88, "2026-01-10T09:40:40Z"), _vital("pre-hr", "8867-4", 70, "2026-01-10T08:55:00Z")])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    got = rows(ws, "vitals", "session_id, timepoint, minutes_after_dose, sbp, dbp, heart_rate")
    assert sorted(got) == [("enc-1", "post40", "40", "150", "90", "88"), ("enc-1", "pre", "0", None, None, "70")]
    assert res["vitals"].rows == 2


def test_pre_dose_re_check_keeps_the_latest_reading_and_counts_the_other(tmp_path, ws):
    # Every reading before the dose is minutes 0: a re-checked pre-dose blood pressure made a second
    # (session, pre, 0) row and both were quarantined. The reading nearest the dose is kept.
    export = ndjson_export(tmp_path / "e", [
        PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}),
        _vital("sbp-1", "8480-6", 168, "2026-01-10T08:30:00Z"), _vital("sbp-2", "8480-6", 138, "2026-01-10T08:55:00Z")])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "vitals", "timepoint, minutes_after_dose, sbp") == [("pre", "0", "138")]
    assert res["vitals"].skipped["Observation/vital sign superseded by a later reading of the same time point"] == 1


def test_vital_sign_without_a_time_keeps_its_value(tmp_path, ws):
    hr = _vital("hr", "8867-4", 80, "x")
    del hr["effectiveDateTime"]
    export = ndjson_export(tmp_path / "e", [PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}), hr])
    read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "vitals", "timepoint, minutes_after_dose, heart_rate") == [("other", None, "80")]


def test_other_drug_given_in_a_ketamine_session_is_not_part_of_its_dose(tmp_path, ws):
    # Ondansetron before an IV ketamine infusion is routine; an EHR's Bulk export carries every
    # administration. The session is the ketamine's: not drug "other" (the first line's), and
    # its dose is not 35 mg + 4 mg.
    ondansetron = {"resourceType": "MedicationAdministration", "id": "ma-0", "status": "completed",
                   "medicationCodeableConcept": {"text": "Ondansetron 4 mg/2 mL injection"},
                   "subject": {"reference": "Patient/p1"}, "context": {"reference": "Encounter/enc-1"},
                   "effectiveDateTime": "2026-01-10T08:50:00Z",
                   "dosage": {"route": _coding("http://snomed.info/sct", "47625008"), "dose": {"value": 4, "code": "mg"}}}
    export = ndjson_export(tmp_path / "e", [PATIENT, ondansetron, _ketamine_dose(dose={"value": 35, "code": "mg"})])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "sessions", "session_id, session_start, drug, dose_mg, infusion_minutes") == [
        ("enc-1", "2026-01-10T09:00:00Z", "ketamine", "35.0", "40")]
    assert res["sessions"].skipped["MedicationAdministration/other drug in a ketamine session"] == 1


def test_unreadable_ndjson_line_is_named_in_the_error(tmp_path, ws):
    import pytest

    from transforms.bundle import BundleError

    export = ndjson_export(tmp_path / "e", [PATIENT, {**PATIENT, "id": "p2"}, {**PATIENT, "id": "p3"}])
    lines = (export / "Patient.000.ndjson").read_text().splitlines()
    lines[1] = lines[1][:-5]  # a truncated resource on line 2
    (export / "Patient.000.ndjson").write_text("\n".join(lines) + "\n")
    with pytest.raises(BundleError) as e:
        read_export(ws, "fhir", export, registry_id="r")
    assert e.value.file == "Patient.000.ndjson" and "line 2" in str(e.value), str(e.value)


def test_dates_taken_from_instants_are_the_registry_local_day(tmp_path):
    # The workspace runs in the registry's time zone; an adverse event at 22:00 New York time sent
    # as 03:00Z the next day happened on the New York day, as the session and enrolment dates are.
    from transforms.workspace import open_workspace

    lab = {"resourceType": "Observation", "id": "alt", "status": "final", "code": _coding("http://loinc.org", "1742-6"),
           "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-11T03:00:00Z",
           "valueQuantity": {"value": 30, "unit": "U/L"}}
    export = ndjson_export(tmp_path / "e", [PATIENT, _ae("ae-1", date="2026-01-11T03:00:00Z"),
                                            _ae("ae-2", date="2026-01-11"), lab])
    con = open_workspace("America/New_York")
    try:
        read_export(con, "fhir", export, registry_id="r")
        assert rows(con, "adverse_events", "ae_id, onset_date") == [("ae-1", "2026-01-10"), ("ae-2", "2026-01-11")]
        assert rows(con, "labs", "collected_on") == [("2026-01-10",)]
    finally:
        con.close()


def test_route_is_read_from_its_snomed_coding_whatever_its_position(tmp_path, ws):
    # EHRs send a route with their local code first and SNOMED after: coding[0] alone gave route
    # "15", which fails sessions.route.code and quarantines the session.
    route = {"coding": [{"system": "urn:oid:1.2.840.114350.1.13.0.1.7.4.798268.7025", "code": "15"},
                        {"system": "http://snomed.info/sct", "code": "47625008"}], "text": "Intravenous"}
    dose = _ketamine_dose(dose={"value": 35, "code": "mg"})
    dose["dosage"]["route"] = route
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, dose]), registry_id="r")
    assert rows(ws, "sessions", "route") == [("iv",)]


def test_vital_sign_of_another_encounter_is_not_the_sessions(tmp_path, ws):
    # The 12-hour window is for vitals charted without an encounter. A reading that names another
    # encounter (an emergency visit that evening) is not a post-dose reading of the session, and
    # must not raise the session's blood-pressure alerts.
    er_bp = _vital("er-sbp", "8480-6", 190, "2026-01-10T18:00:00Z")
    er_bp["encounter"] = {"reference": "Encounter/er-1"}
    unlinked = _vital("hr", "8867-4", 80, "2026-01-10T09:45:00Z")
    del unlinked["encounter"]
    export = ndjson_export(tmp_path / "e", [PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}), er_bp, unlinked])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "vitals", "session_id, minutes_after_dose, sbp, heart_rate") == [("enc-1", "45", None, "80")]
    assert res["vitals"].skipped["Observation/vital sign outside a treatment session"] == 1


def test_enrolment_is_the_first_treatment_session_not_the_first_encounter_ever(tmp_path, ws):
    # An EHR export carries a patient's whole history: a 2015 check-up is not enrolment in a
    # ketamine registry whose first session was in 2026. Without sessions the first encounter stays.
    checkup = {"resourceType": "Encounter", "id": "old", "status": "finished", "subject": {"reference": "Patient/p1"},
               "period": {"start": "2015-03-01T10:00:00Z", "end": "2015-03-01T10:30:00Z"}}
    other = {**PATIENT, "id": "p2"}
    visit = {**checkup, "id": "old-2", "subject": {"reference": "Patient/p2"}}
    export = ndjson_export(tmp_path / "e", [PATIENT, other, checkup, visit,
                                            _ketamine_dose(dose={"value": 35, "code": "mg"})])
    read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "patients", "patient_id, enrolled_on") == [("p1", "2026-01-10"), ("p2", "2015-03-01")]


def test_refuted_or_erroneous_diagnosis_is_not_the_patients(tmp_path, ws):
    def condition(cid: str, code: str, recorded: str, status: str | None) -> dict:
        c = {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/p1"}, "recordedDate": recorded,
             "code": _coding("http://hl7.org/fhir/sid/icd-10-cm", code)}
        if status:
            c["verificationStatus"] = _coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", status)
        return c
    export = ndjson_export(tmp_path / "e", [PATIENT, condition("c1", "F33.2", "2025-01-01", "confirmed"),
                                            condition("c2", "F32.0", "2025-06-01", "refuted"),
                                            condition("c3", "F32.1", "2025-07-01", "entered-in-error")])
    read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "patients", "diagnosis_icd10") == [("F33.2",)]


def test_phq9_items_as_member_observations_of_the_panel(tmp_path, ws):
    # US Core charts a PHQ-9 as a 44249-1 panel whose hasMember are nine item Observations and the
    # 44261-6 total. The items must reach item_scores: item 9 (44260-8) drives the self-harm alert.
    from transforms.adapters.fhir_codes import PHQ9_ITEMS

    answers = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6568-5", "LA6568-5", "LA6568-5",
               "LA6569-3"]
    items = [{"resourceType": "Observation", "id": f"item-{n}", "status": "final",
              "code": _coding("http://loinc.org", code), "subject": {"reference": "Patient/p1"},
              "effectiveDateTime": "2026-01-10T10:00:00Z", "valueCodeableConcept": _coding("http://loinc.org", a)}
             for n, (code, a) in enumerate(zip(PHQ9_ITEMS, answers), 1)]
    total = _phq9_obs("total", 7)
    panel = {"resourceType": "Observation", "id": "panel", "status": "final", "code": _coding("http://loinc.org", "44249-1"),
             "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-10T10:00:00Z",
             "hasMember": [{"reference": f"Observation/{o['id']}"} for o in [*items, total]]}
    _, res = read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, panel, *items, total]), registry_id="r")
    assert rows(ws, "assessments", "assessment_id, total_score, item_scores") == [("total", "7", "0;1;2;3;0;0;0;0;1")]
    assert "Observation/unused code" not in res["assessments"].skipped or \
        res["assessments"].skipped["Observation/unused code"] == 1  # the panel itself, a grouper


def test_vitals_of_an_inpatient_stay_far_from_the_dose_are_not_session_vitals(tmp_path, ws):
    # An inpatient given ketamine has its session in the admission encounter, which also holds every
    # vital sign of the stay. Readings days away are not the session's: as rows they broke
    # vitals.minutes_after_dose.range (0-1440) and could push the table past its reject threshold.
    dose = _ketamine_dose(dose={"value": 35, "code": "mg"})
    export = ndjson_export(tmp_path / "e", [
        PATIENT, dose, _vital("adm", "8867-4", 90, "2026-01-08T09:00:00Z"),
        _vital("pre", "8867-4", 70, "2026-01-10T08:55:00Z"), _vital("post", "8867-4", 75, "2026-01-10T09:40:00Z"),
        _vital("day-2", "8867-4", 72, "2026-01-11T09:30:00Z"), _vital("day-3", "8867-4", 71, "2026-01-12T09:00:00Z")])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert sorted(rows(ws, "vitals", "minutes_after_dose, heart_rate")) == [("0", "70"), ("40", "75")]
    assert res["vitals"].skipped["Observation/vital sign more than 12 h before or 24 h after the dose"] == 3


def test_line_numbers_count_blank_lines(tmp_path, ws):
    # DuckDB's NDJSON reader skips blank and whitespace-only lines; the lines a quarantine row or an
    # error names must still be the file's own line numbers.
    export = ndjson_export(tmp_path / "e", [PATIENT, _phq9_obs("obs-1", 7), _phq9_obs("obs-2", 9)])
    path = export / "Observation.000.ndjson"
    first, second = path.read_text().splitlines()
    path.write_text("\n" + first + "\n  \n\r\n" + second + "\n\n")  # objects on lines 2 and 5
    read_export(ws, "fhir", export, registry_id="r")
    assert sorted(rows(ws, "assessments", "assessment_id, _line")) == [("obs-1", 2), ("obs-2", 5)]


def test_object_lines_only_when_blank_lines_shift_them(tmp_path):
    from transforms.adapters.fhir import object_lines

    cases = {b'{"a":1}\n{"a":2}\n': None, b'{"a":1}\n{"a":2}\n\n\n': None, b'': None,
             b'\n{"a":1}\n\n{"a":2}': [2, 4], b'{"a":1}\r\n\r\n{"a":2}\r\n': [1, 3]}
    for i, (data, want) in enumerate(cases.items()):
        p = tmp_path / f"{i}.ndjson"
        p.write_bytes(data)
        assert object_lines(p) == want, data


# A CodeableConcept may carry several codings: EHRs put their local code first and the standard one
# after, or add translations. Each code the mapping understands must be read wherever it stands.
LOCAL = "urn:oid:1.2.840.114350.1.13.0.1.7.4.698084.10000"


def _codings(*pairs: tuple[str | None, str]) -> dict:
    return {"coding": [{"code": code} if system is None else {"system": system, "code": code}
                       for system, code in pairs]}


def _alerts(ws, tmp_path, bundle, reads) -> set[tuple[str, str]]:
    """(record, rule) of every alert a read export raises: pseudonymise, validate and split as the
    ingest does (without Prefect). Validation frees the raw_ tables: read them before."""
    from expectations.validate import validate_export
    from transforms import split
    from transforms.pseudonymise import build_key_map
    from warehouse.connect import attach, detach, ensure_warehouse

    build_key_map(ws, b"fhir-mapping-tests-key-0123456789abcdef", bundle.registry_id, list(reads))
    ws.execute("SET VARIABLE registry_id = ?", [bundle.registry_id])
    ws.execute("SET VARIABLE exported_at = ?", [bundle.exported_at.isoformat()])
    attach(ws, ensure_warehouse(tmp_path / "wh.duckdb"), read_only=True)
    try:
        validate_export(ws, on_table_done=lambda t: split.collect_table(ws, t, reads[t].file))
    finally:
        detach(ws)
    return set(ws.execute("SELECT record_id, rule FROM alert_rows").fetchall())


def test_fhir_code_prefers_the_expected_system_then_a_known_code_then_the_first(ws):
    from transforms.adapters.fhir import SQL

    ws.execute((SQL / "fhir_macros.sql").read_text())

    def code(cc: dict | None) -> str | None:
        return ws.execute("SELECT fhir_code(?::JSON, 'http://std', ['Yes', 'No'])",
                          [None if cc is None else json.dumps(cc)]).fetchone()[0]

    assert code(_codings((LOCAL, "Y"), ("http://std", "Yes"))) == "Yes"
    assert code(_codings((LOCAL, "yes"), ("http://std", "No"))) == "No"  # the system wins over a known code
    assert code(_codings((LOCAL, "Y"), (None, "no"))) == "no"  # a known code, case-insensitive, as sent
    assert code(_codings((LOCAL, "Y"), (LOCAL, "Z"))) == "Y"  # nothing known: the first, as before
    assert code(_codings(("http://std", "Maybe"))) == "Maybe"
    assert code({"text": "yes"}) is None and code({"coding": []}) is None


def test_seriousness_coded_locally_first_is_still_serious_and_raises_the_sae_alert(tmp_path, ws):
    # A local seriousness code before the HL7 one made the event of unknown seriousness: no
    # adverse_events.serious.sae alert, a serious adverse event nobody was told of.
    hl7 = _ae("ae-hl7", seriousness=_codings((LOCAL, "S"), (SERIOUSNESS, "Serious")))
    death = _ae("ae-death", seriousness=_codings((LOCAL, "D"), (SERIOUSNESS, "SeriousResultsInDeath")))
    known = _ae("ae-known", seriousness=_codings((LOCAL, "S"), ("http://example.org/seriousness", "serious")))
    non = _ae("ae-non", seriousness=_codings((LOCAL, "S"), (SERIOUSNESS, "Non-serious")))
    enrolled = {**PATIENT, "extension": [{"url": "urn:ketamine-outcomes:ext:enrolled-on", "valueDate": "2026-01-02"}]}
    bundle, reads = read_export(ws, "fhir", ndjson_export(tmp_path / "e", [enrolled, hl7, death, known, non]),
                                registry_id="r")
    got = {r[0]: r[1:] for r in rows(ws, "adverse_events", "ae_id, serious, death")}
    assert got == {"ae-hl7": ("1", None), "ae-death": ("1", "1"), "ae-known": ("1", None), "ae-non": ("0", None)}
    alerts = _alerts(ws, tmp_path, bundle, reads)
    sae = {record for record, rule in alerts if rule == "adverse_events.serious.sae"}
    assert sae == {"ae-hl7", "ae-death", "ae-known"}, alerts


def test_severity_outcome_and_causality_read_from_their_hl7_coding_after_a_local_one(tmp_path, ws):
    hl7 = "http://terminology.hl7.org/CodeSystem/adverse-event-"
    ae = _ae("ae-1", severity=_codings((LOCAL, "2"), (hl7 + "severity", "moderate")),
             outcome=_codings((LOCAL, "R"), (hl7 + "outcome", "resolvedWithSequelae")),
             suspectEntity=[{"instance": {"reference": "Medication/k"},
                             "causality": [{"assessment": _codings((LOCAL, "P"), (CAUSALITY, "Probably-Likely"))}]}])
    event = {"coding": [{"system": LOCAL, "code": "N1"}, {"system": "http://snomed.info/sct", "code": "422587007",
                                                           "display": "Nausea"}]}
    no_text = _ae("ae-2", event=event)
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, ae, no_text]), registry_id="r")
    assert rows(ws, "adverse_events", "ae_id, severity, outcome, related, term") == [
        ("ae-1", "moderate", "recovered_with_sequelae", "probable", "nausea"), ("ae-2", None, None, None, "Nausea")]


def test_phq9_item_answers_read_from_their_loinc_coding_after_a_local_one(tmp_path, ws):
    # An answer sent as [local "2", LOINC LA6570-1] read as the unknown "2": no item value, so no
    # item_scores and no item-9 self-harm alert.
    from transforms.adapters.fhir_codes import PHQ9_ITEMS

    answers = ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6568-5", "LA6568-5", "LA6568-5",
               "LA6569-3"]
    items = [{"resourceType": "Observation", "id": f"item-{n}", "status": "final",
              "code": _coding("http://loinc.org", code), "subject": {"reference": "Patient/p1"},
              "effectiveDateTime": "2026-01-10T10:00:00Z",
              "valueCodeableConcept": _codings((LOCAL, str(n)), ("http://loinc.org", a))}
             for n, (code, a) in enumerate(zip(PHQ9_ITEMS, answers), 1)]
    total = _phq9_obs("total", 7)
    total["hasMember"] = [{"reference": f"Observation/{o['id']}"} for o in items]
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, total, *items]), registry_id="r")
    assert rows(ws, "assessments", "assessment_id, total_score, item_scores") == [("total", "7", "0;1;2;3;0;0;0;0;1")]


def test_refuted_diagnosis_coded_locally_first_is_still_refuted(tmp_path, ws):
    status = "http://terminology.hl7.org/CodeSystem/condition-ver-status"

    def condition(cid: str, code: str, recorded: str, verification: dict) -> dict:
        return {"resourceType": "Condition", "id": cid, "subject": {"reference": "Patient/p1"},
                "recordedDate": recorded, "code": _coding("http://hl7.org/fhir/sid/icd-10-cm", code),
                "verificationStatus": verification}
    export = ndjson_export(tmp_path / "e", [
        PATIENT, condition("c1", "F33.2", "2025-01-01", _codings((LOCAL, "C"), (status, "confirmed"))),
        condition("c2", "F32.0", "2025-06-01", _codings((LOCAL, "R"), (status, "refuted")))])
    read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "patients", "diagnosis_icd10") == [("F33.2",)]


def _suspect(assessment: str | None, **instance) -> dict:
    """A suspect entity: `instance` as given (reference / CodeableConcept), one WHO-UMC causality."""
    s = dict(instance)
    if assessment is not None:
        s["causality"] = [{"assessment": _coding(CAUSALITY, assessment)}]
    return s


def test_causality_is_the_ketamine_suspects_whatever_its_position(tmp_path, ws):
    # `related` is relatedness to the ketamine treatment: with sertraline listed first, suspectEntity[0]
    # reported the antidepressant's assessment. The treatment is recognised as the sessions are: an
    # administration the adapter classed as ketamine, a Medication, MedicationStatement or Procedure
    # naming it, a CodeableConcept (R5 instanceCodeableConcept) or a contained Medication.
    sertraline = {"resourceType": "MedicationStatement", "id": "ms-1", "status": "active",
                  "medicationCodeableConcept": {"text": "Sertraline 100 mg tablet"}, "subject": {"reference": "Patient/p1"}}
    esk = {"resourceType": "Medication", "id": "med-esk", "code": {"text": "Spravato 28 mg nasal spray"}}
    other = _suspect("Probably-Likely", instance={"reference": "MedicationStatement/ms-1"})
    aes = [
        _ae("ae-ma", suspectEntity=[other, _suspect("Unlikely", instance={"reference": "MedicationAdministration/ma-1"})]),
        _ae("ae-med", suspectEntity=[other, _suspect("Possible", instance={"reference": "Medication/med-esk"})]),
        _ae("ae-r5", suspectEntity=[other, _suspect("Certain", instanceCodeableConcept={"text": "Esketamine"})]),
        _ae("ae-contained", contained=[{"resourceType": "Medication", "id": "m1", "code": {"text": "Ketamine HCl"}}],
            suspectEntity=[other, _suspect("Unlikely", instance={"reference": "#m1"})]),
        # the first causality that has an assessment: the one before it only names its author
        _ae("ae-author-first", suspectEntity=[other, {"instance": {"reference": "MedicationAdministration/ma-1"},
                                                      "causality": [{"author": {"reference": "Practitioner/x"}},
                                                                    {"assessment": _coding(CAUSALITY, "Possible")}]}]),
        # the treatment listed twice, assessed only the second time
        _ae("ae-twice", suspectEntity=[_suspect(None, instance={"reference": "Medication/med-esk"}), other,
                                       _suspect("Unlikely", instance={"reference": "MedicationAdministration/ma-1"})]),
        # one suspect: its causality, recognised or not (as before)
        _ae("ae-single", suspectEntity=[_suspect("Probably-Likely", instance={"reference": "Medication/unknown"})]),
    ]
    export = ndjson_export(tmp_path / "e", [PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}), sertraline,
                                           esk, *aes])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert dict(rows(ws, "adverse_events", "ae_id, related")) == {
        "ae-ma": "unlikely", "ae-med": "possible", "ae-r5": "definite", "ae-contained": "unlikely",
        "ae-author-first": "possible", "ae-twice": "unlikely", "ae-single": "probable"}
    assert not any(k.startswith("AdverseEvent/") for k in res["adverse_events"].skipped), res["adverse_events"].skipped


def test_causality_of_several_suspects_none_the_ketamine_is_left_empty_and_counted(tmp_path, ws):
    # Two suspects and neither recognisable as the ketamine treatment: either assessment may be the
    # other drug's, so `related` stays empty rather than guessed, and the load report says so.
    aes = [_ae("ae-pair", suspectEntity=[_suspect("Certain", instance={"reference": "Medication/a"}),
                                         _suspect("Unlikely", instance={"reference": "Medication/b"})]),
           _ae("ae-no-causality", suspectEntity=[_suspect(None, instance={"reference": "Medication/a"}),
                                                 _suspect(None, instance={"reference": "Medication/b"})])]
    _, res = read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, *aes]), registry_id="r")
    assert rows(ws, "adverse_events", "ae_id, related") == [("ae-pair", None), ("ae-no-causality", None)]
    # only the event whose assessments were set aside is counted
    assert res["adverse_events"].skipped[
        "AdverseEvent/relatedness left empty: several suspects, none the ketamine treatment"] == 1


def _answers_qr(qid: str, codes: list[str], answers: list[str | None], questionnaire: str, status: str = "completed",
                total: tuple[str, int] | None = None) -> dict:
    """A QuestionnaireResponse whose items (linkId "/<LOINC code>", as LHC-Forms writes them) sit in a
    group, answered with LOINC answer codes; None leaves an item unanswered."""
    items = [{"linkId": f"/{c}", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": a}}]}
             for c, a in zip(codes, answers) if a is not None]
    if total is not None:
        items.append({"linkId": total[0], "answer": [{"valueInteger": total[1]}]})
    return {"resourceType": "QuestionnaireResponse", "id": qid, "status": status, "questionnaire": questionnaire,
            "subject": {"reference": "Patient/p1"}, "authored": "2026-01-11T10:00:00Z",
            "item": [{"linkId": "group", "item": items}]}


def test_gad7_questionnaire_response_becomes_a_gad7_assessment(tmp_path, ws):
    # GAD-7 (LOINC panel 69737-5) uses PHQ-9's answer list; it was counted as "not a PHQ-9" and lost.
    # Items in panel order (69725-0 ... 69736-7), total as given (70274-6) or summed when all seven are
    # there; item 2 (68509-9) in the LOINC panel answers 2 as LA18938-3 "More days than not".
    from transforms.adapters.fhir_codes import GAD7_ITEMS, PHQ9_ITEMS

    answers = ["LA6569-3", "LA18938-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6569-3", "LA6568-5"]
    resources = [
        PATIENT,
        _answers_qr("gad-summed", GAD7_ITEMS, answers, "http://loinc.org/q/69737-5"),
        _answers_qr("gad-given", GAD7_ITEMS, answers, "Questionnaire/gad-7", total=("/70274-6", 9)),
        # by its item codes alone, and one item short: no item list, no total made up
        _answers_qr("gad-short", GAD7_ITEMS, answers[:6] + [None], "Questionnaire/anxiety"),
        _answers_qr("gad-draft", GAD7_ITEMS, answers, "Questionnaire/gad-7", status="in-progress"),
        _answers_qr("phq", PHQ9_ITEMS, ["LA6569-3"] * 8 + ["LA6568-5"], "Questionnaire/phq-9"),
    ]
    _, res = read_export(ws, "fhir", ndjson_export(tmp_path / "e", resources), registry_id="r")
    assert rows(ws, "assessments", "assessment_id, instrument, total_score, item_scores") == [
        ("gad-summed", "GAD7", "9", "1;2;2;3;0;1;0"), ("gad-given", "GAD7", "9", "1;2;2;3;0;1;0"),
        ("gad-short", "GAD7", None, None), ("phq", "PHQ9", "8", "1;1;1;1;1;1;1;1;0")]
    assert res["assessments"].skipped.get("QuestionnaireResponse/in-progress") == 1, res["assessments"].skipped


def _gad7_item_obs(oid: str, code: str, answer: str) -> dict:
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": _coding("http://loinc.org", code),
            "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-10T10:00:00Z",
            "valueCodeableConcept": _codings((LOCAL, "x"), ("http://loinc.org", answer))}


def test_gad7_item_2_answer_more_days_than_not_is_read_from_observations_too(tmp_path, ws):
    # LOINC's GAD-7 panel answers item 2 (68509-9) 2 as LA18938-3 "More days than not"; the
    # QuestionnaireResponse path read it, the Observation path (components, hasMember items) did
    # not: no item value, so no item_scores. Only for GAD-7 item 2: elsewhere it is no PHQ-9 answer.
    from transforms.adapters.fhir_codes import GAD7_ITEMS, PHQ9_ITEMS

    answers = ["LA6569-3", "LA18938-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6569-3", "LA6568-5"]
    gad_total = {"resourceType": "Observation", "id": "gad-comp", "status": "final",
                 "code": _coding("http://loinc.org", "70274-6"), "subject": {"reference": "Patient/p1"},
                 "effectiveDateTime": "2026-01-10T10:00:00Z", "valueInteger": 9,
                 "component": [{"code": _coding("http://loinc.org", c), "valueCodeableConcept": _coding("http://loinc.org", a)}
                               for c, a in zip(GAD7_ITEMS, answers)]}
    members = [_gad7_item_obs(f"g-{n}", c, a) for n, (c, a) in enumerate(zip(GAD7_ITEMS, answers), 1)]
    gad_members = {**gad_total, "id": "gad-members", "component": []}
    gad_members["hasMember"] = [{"reference": f"Observation/{o['id']}"} for o in members]
    # the code on another item of GAD-7, or on a PHQ-9 item, is no answer there
    wrong = [{**gad_total, "id": "gad-item3", "component": [
        {**c, "valueCodeableConcept": _coding("http://loinc.org", "LA18938-3")} if i == 2 else c
        for i, c in enumerate(gad_total["component"])]}]
    phq = {**_phq9_obs("phq-comp", 9), "component": [
        {"code": _coding("http://loinc.org", c), "valueCodeableConcept": _coding("http://loinc.org", a)}
        for c, a in zip(PHQ9_ITEMS, ["LA6569-3", "LA18938-3"] + ["LA6569-3"] * 7)]}
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, gad_total, gad_members, *members, *wrong, phq]),
                registry_id="r")
    got = dict(rows(ws, "assessments", "assessment_id, item_scores"))
    assert got == {"gad-comp": "1;2;2;3;0;1;0", "gad-members": "1;2;2;3;0;1;0", "gad-item3": None,
                   "phq-comp": None}, got


def _group(link: str, codes: list[str], answers: list[str | None], total: tuple[str, int] | None = None) -> dict:
    """A group item of LOINC-coded answers (linkId "/<code>"), and a total item when given."""
    items = [{"linkId": f"/{c}", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": a}}]}
             for c, a in zip(codes, answers) if a is not None]
    if total is not None:
        items.append({"linkId": total[0], "answer": [{"valueInteger": total[1]}]})
    return {"linkId": link, "item": items}


def _combined_qr(qid: str, groups: list[dict], questionnaire: str = "Questionnaire/phq-9-and-gad-7") -> dict:
    return {"resourceType": "QuestionnaireResponse", "id": qid, "status": "completed", "questionnaire": questionnaire,
            "subject": {"reference": "Patient/p1"}, "authored": "2026-01-11T10:00:00Z", "item": groups}


PHQ_ANSWERS = ["LA6569-3"] * 8 + ["LA6568-5"]  # total 8
GAD_ANSWERS = ["LA6569-3", "LA18938-3", "LA6570-1", "LA6571-9", "LA6568-5", "LA6569-3", "LA6568-5"]  # total 9


def test_combined_phq9_and_gad7_response_makes_one_assessment_per_instrument(tmp_path, ws):
    # EHRs often use one "PHQ-9 and GAD-7" form. The response was read as a PHQ-9 and its GAD-7 lost.
    # Each instrument present and complete makes its own row: PHQ-9 keeps the response id (the id it
    # always had), GAD-7 is "<response id>#GAD7" ('#' is no FHIR id character: no other response has
    # that id). Each group's "totalScore" is its own instrument's.
    from transforms.adapters.fhir import QR_LINE_OFFSET
    from transforms.adapters.fhir_codes import GAD7_ITEMS, PHQ9_ITEMS

    both = _combined_qr("cmb", [_group("phq", PHQ9_ITEMS, PHQ_ANSWERS, ("totalScore", 8)),
                                _group("gad", GAD7_ITEMS, GAD_ANSWERS, ("totalScore", 9))])
    # one shared "total" beside both groups belongs to neither: each is summed from its items
    shared = _combined_qr("shared", [_group("phq", PHQ9_ITEMS, PHQ_ANSWERS), _group("gad", GAD7_ITEMS, GAD_ANSWERS),
                                     {"linkId": "total", "answer": [{"valueInteger": 17}]}], "Questionnaire/intake")
    # GAD-7 section left half done: PHQ-9 only, the GAD-7 part counted
    half = _combined_qr("half", [_group("phq", PHQ9_ITEMS, PHQ_ANSWERS),
                                 _group("gad", GAD7_ITEMS, GAD_ANSWERS[:3] + [None] * 4)])
    # PHQ-9 section empty: the GAD-7 row keeps its combined id, whatever the PHQ-9 part holds
    gad_only_answered = _combined_qr("gad-only", [_group("phq", PHQ9_ITEMS, [None] * 9),
                                                  _group("gad", GAD7_ITEMS, GAD_ANSWERS)])
    gad = _answers_qr("gad", GAD7_ITEMS, GAD_ANSWERS, "Questionnaire/gad-7")  # one instrument: its id as before
    obs = _phq9_obs("obs-1", 7)
    first, res = read_export(ws, "fhir", ndjson_export(tmp_path / "e",
                                                       [PATIENT, obs, both, shared, half, gad_only_answered, gad]),
                             registry_id="r")
    got = rows(ws, "assessments", "assessment_id, instrument, total_score, item_scores, _line")
    assert [r[:4] for r in got] == [
        ("obs-1", "PHQ9", "7", None),
        ("cmb", "PHQ9", "8", "1;1;1;1;1;1;1;1;0"), ("shared", "PHQ9", "8", "1;1;1;1;1;1;1;1;0"),
        ("half", "PHQ9", "8", "1;1;1;1;1;1;1;1;0"), ("gad", "GAD7", "9", "1;2;2;3;0;1;0"),
        ("cmb#GAD7", "GAD7", "9", "1;2;2;3;0;1;0"), ("shared#GAD7", "GAD7", "9", "1;2;2;3;0;1;0"),
        ("gad-only#GAD7", "GAD7", "9", "1;2;2;3;0;1;0")], got
    lines = {r[0]: r[4] for r in got}
    assert len(set(lines.values())) == len(lines), lines  # staging keys a table's rows by _line
    assert lines["cmb"] == QR_LINE_OFFSET + 1 and lines["cmb#GAD7"] == 2 * QR_LINE_OFFSET + 1, lines
    skipped = res["assessments"].skipped
    assert skipped.get("QuestionnaireResponse/PHQ-9 part of a combined response not complete") == 1, skipped
    assert skipped.get("QuestionnaireResponse/GAD-7 part of a combined response not complete") == 1, skipped

    # re-exported (another line, another export): the same two ids
    read_export(ws, "fhir", ndjson_export(tmp_path / "e2", [PATIENT, gad, both], "2026-02-28T12:00:00Z"),
                registry_id="r")
    assert rows(ws, "assessments", "assessment_id") == [("gad",), ("cmb",), ("cmb#GAD7",)]


def _esketamine(mid: str, start: str, devices, encounter: str | None = "enc-1", patient: str = "p1") -> dict:
    ma = {"resourceType": "MedicationAdministration", "id": mid, "status": "completed",
          "medicationCodeableConcept": {"text": "esketamine nasal spray"}, "subject": {"reference": f"Patient/{patient}"},
          "effectivePeriod": {"start": start, "end": start[:-3] + "30Z"},
          "dosage": {"route": _coding("http://snomed.info/sct", "46713006"), "dose": {"value": 28, "code": "mg"}},
          "extension": [{"url": "urn:ketamine-outcomes:ext:devices", "valueInteger": devices}]}
    if encounter:
        ma["context"] = {"reference": f"Encounter/{encounter}"}
    return ma


def test_esketamine_charted_one_administration_per_device_counts_every_device(tmp_path, ws):
    # Spravato 84 mg is three 28 mg devices, which an EHR may chart as three administrations of one
    # encounter, each with devices = 1. The dose adds up to 84, so must the devices, or the session
    # breaks sessions.devices.esketamine_devices (devices = dose_mg / 28) and is quarantined.
    admins = [_esketamine(f"ma-{i}", f"2026-01-10T09:0{i}:00Z", 1) for i in range(3)]
    read_export(ws, "fhir", ndjson_export(tmp_path / "split", [PATIENT, *admins]), registry_id="r")
    assert rows(ws, "sessions", "session_id, dose_mg, devices") == [("enc-1", "84.0", "3")]
    # one administration of the three devices, as before
    read_export(ws, "fhir", ndjson_export(tmp_path / "one", [PATIENT, _esketamine("ma-0", "2026-01-10T09:00:00Z", 3)]),
                registry_id="r")
    assert rows(ws, "sessions", "dose_mg, devices") == [("28.0", "3")]
    # a count that is no whole number is kept as sent, to fail the devices type rule
    admins[1]["extension"][0]["valueInteger"] = "two"
    read_export(ws, "fhir", ndjson_export(tmp_path / "bad", [PATIENT, *admins]), registry_id="r")
    assert rows(ws, "sessions", "devices") == [("two",)]


def test_export_json_mode_and_export_id_are_checked(tmp_path):
    # export.json is written by hand or by a client: a mode other than full / incremental was taken
    # as given (warehouse and flow test only == "full", so "snapshot" loaded as incremental and
    # withdrew nothing), and a numeric export_id raised TypeError, which named no rule and no file.
    import pytest

    from transforms import adapters
    from transforms.bundle import BundleError

    export = ndjson_export(tmp_path / "e", [PATIENT])
    for meta, rule in (({"mode": "snapshot"}, "bundle.mode"), ({"mode": 1}, "bundle.mode"),
                       ({"export_id": 20260105}, "bundle.export_id"), ({"export_id": "a b/../c"}, "bundle.export_id")):
        (export / "export.json").write_text(json.dumps({"registry_id": "r", **meta}))
        with pytest.raises(BundleError) as e:
            adapters.get("fhir").open(export)
        assert e.value.rule == rule and e.value.file == "export.json", (meta, str(e.value))
    for mode in ("full", "incremental"):
        (export / "export.json").write_text(json.dumps({"registry_id": "r", "export_id": "x-1", "mode": mode}))
        bundle = adapters.get("fhir").open(export)
        assert (bundle.mode, bundle.export_id) == (mode, "x-1")


def test_malformed_questionnaire_answer_is_kept_as_text_not_failing_the_export(tmp_path, ws):
    # One response answered {"valueInteger": "1.5"} raised ValueError out of read(), and the whole
    # export failed ("step read-tables failed"). The value is kept as text: its row fails
    # assessments.item_scores.format (or the total's type) and is quarantined, the rest loads.
    from transforms.adapters.fhir_codes import PHQ9_ITEMS

    def phq(qid: str, values: list) -> dict:
        return {"resourceType": "QuestionnaireResponse", "id": qid, "status": "completed",
                "questionnaire": "Questionnaire/phq-9", "subject": {"reference": "Patient/p1"},
                "authored": "2026-01-11T10:00:00Z",
                "item": [{"linkId": c, "answer": [v]} for c, v in zip(PHQ9_ITEMS, values)]}

    ok = [{"valueInteger": 1}] * 9
    bad_item = phq("qr-item", [{"valueInteger": "1.5"}] + ok[1:])
    bad_total = _qr("qr-total")
    bad_total["item"][0]["answer"] = [{"valueDecimal": 4.5}]
    odd = phq("qr-odd", ok)  # fields of the wrong JSON type: read as absent, or kept as text
    odd.update(questionnaire=["phq-9"], encounter="Encounter/e1", subject=7)
    odd["item"].append("not an item")
    odd["item"][0]["answer"] = [{"valueCoding": {"code": ["LA6569-3"]}}, "x"]
    partial = _qr("qr-partial")  # the review's case: one item "1.5" beside the given total, items missing
    partial["item"].insert(0, {"linkId": PHQ9_ITEMS[0], "answer": [{"valueInteger": "1.5"}]})
    resources = [PATIENT, bad_item, bad_total, odd, phq("qr-ok", ok), partial]
    bundle, reads = read_export(ws, "fhir", ndjson_export(tmp_path / "e", resources), registry_id="r")
    got = {r[0]: r[1:] for r in rows(ws, "assessments", "assessment_id, patient_id, total_score, item_scores")}
    assert got == {"qr-item": ("p1", None, "1.5;1;1;1;1;1;1;1;1"), "qr-total": ("p1", "4.5", None),
                   "qr-odd": ("7", None, "x;1;1;1;1;1;1;1;1"), "qr-ok": ("p1", "9", "1;1;1;1;1;1;1;1;1"),
                   "qr-partial": ("p1", "5", "1.5;;;;;;;;")}, got
    lines = dict(rows(ws, "assessments", "assessment_id, _line"))
    _alerts(ws, tmp_path, bundle, reads)  # validates and splits
    quarantined = {}  # (patients are not in this bare warehouse: every row misses its patient)
    for line, rule in ws.execute("SELECT source_row, rule FROM q_rows WHERE table_name = 'assessments' "
                                 "AND rule <> 'assessments.patient_id.exists'").fetchall():
        quarantined.setdefault(line, set()).add(rule)
    assert set(quarantined) == {lines["qr-item"], lines["qr-total"], lines["qr-odd"], lines["qr-partial"]}, quarantined
    assert "assessments.item_scores.format" in quarantined[lines["qr-partial"]]
    assert "assessments.total_score.required" in quarantined[lines["qr-item"]]  # no total summed from "1.5"
    assert "assessments.total_score.type" in quarantined[lines["qr-total"]]
    assert "assessments.item_scores.format" in quarantined[lines["qr-odd"]]


def test_session_of_an_encounter_and_of_an_administration_sharing_an_id_stay_apart(tmp_path, ws):
    # FHIR ids are unique per resource type only: Encounter "7" (p1's esketamine visit) and p2's IV
    # ketamine MedicationAdministration "7" given without an Encounter merged into one session "7",
    # and p2's session was lost. The administration's session has an id of its own; observations,
    # responses and adverse events naming Encounter/7 belong to the Encounter's session only.
    enc = {"resourceType": "Encounter", "id": "7", "status": "finished", "class": {"code": "AMB"},
           "subject": {"reference": "Patient/p1"},
           "period": {"start": "2026-01-10T08:55:00Z", "end": "2026-01-10T11:30:00Z"}}
    esk = [_esketamine(f"ma-{i}", f"2026-01-10T09:0{i}:00Z", 1, encounter="7") for i in range(3)]
    iv = {"resourceType": "MedicationAdministration", "id": "7", "status": "completed",
          "medicationCodeableConcept": {"text": "ketamine hydrochloride"}, "subject": {"reference": "Patient/p2"},
          "effectivePeriod": {"start": "2026-02-01T09:00:00Z", "end": "2026-02-01T09:40:00Z"},
          "dosage": {"route": _coding("http://snomed.info/sct", "47625008"), "dose": {"value": 35, "code": "mg"}}}
    hr = _vital("hr", "8867-4", 80, "2026-01-10T09:40:00Z")
    hr["encounter"] = {"reference": "Encounter/7"}
    qr = _qr("qr-1")
    qr["encounter"] = {"reference": "Encounter/7"}
    ae = _ae("ae-1", encounter={"reference": "Encounter/7"})
    p2 = {**PATIENT, "id": "p2"}
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", [PATIENT, p2, enc, *esk, iv, hr, qr, ae]), registry_id="r")
    assert rows(ws, "sessions", "session_id, patient_id, drug, route, dose_mg, devices, infusion_minutes, setting") == [
        ("7", "p1", "esketamine", "intranasal", "84.0", "3", "2", "clinic"),
        ("MedicationAdministration/7", "p2", "ketamine", "iv", "35.0", None, "40", None)]
    assert rows(ws, "vitals", "session_id, heart_rate") == [("7", "80")]
    assert rows(ws, "assessments", "assessment_id, session_id") == [("qr-1", "7")]
    assert rows(ws, "adverse_events", "ae_id, session_id") == [("ae-1", "7")]


def test_us_core_pulse_oximetry_carrying_two_spo2_codes_is_one_reading(tmp_path, ws):
    # US Core's pulse oximetry profile codes the Observation 59408-5 and 2708-6 at once: one reading,
    # which was counted as superseded by itself.
    spo2 = _vital("spo2", "59408-5", 97, "2026-01-10T09:40:00Z")
    spo2["code"]["coding"].append({"system": "http://loinc.org", "code": "2708-6"})
    export = ndjson_export(tmp_path / "e", [PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}), spo2])
    _, res = read_export(ws, "fhir", export, registry_id="r")
    assert rows(ws, "vitals", "timepoint, minutes_after_dose, spo2") == [("post40", "40", "97")]
    assert not any("superseded" in k for k in res["vitals"].skipped), res["vitals"].skipped


def test_score_taken_before_the_dose_has_negative_minutes_after_dose(tmp_path, ws):
    # A score linked to a session (by its Encounter, or by time within 12 h) but taken before the
    # dose got minutes_after_dose 0, as if at the dose. The contract allows -1440 to 1440 for
    # assessments, so it gets its real, negative minutes; one more than 24 h before the dose (an
    # inpatient stay's, linked by its encounter) is no peri-dose score and gets none.
    def score(oid: str, when: str, encounter: str | None) -> dict:
        o = dict(_phq9_obs(oid, 12), effectiveDateTime=when)
        if encounter:
            o["encounter"] = {"reference": f"Encounter/{encounter}"}
        return o
    export = ndjson_export(tmp_path / "e", [
        PATIENT, _ketamine_dose(dose={"value": 35, "code": "mg"}),
        score("by-time", "2026-01-10T07:00:00Z", None), score("in-enc", "2026-01-10T08:50:00Z", "enc-1"),
        score("after", "2026-01-10T09:40:00Z", None), score("admission", "2026-01-07T09:00:00Z", "enc-1")])
    read_export(ws, "fhir", export, registry_id="r")
    got = dict((a, (s, m)) for a, s, m in rows(ws, "assessments", "assessment_id, session_id, minutes_after_dose"))
    assert got == {"by-time": ("enc-1", "-120"), "in-enc": ("enc-1", "-10"), "after": ("enc-1", "40"),
                   "admission": ("enc-1", None)}


def test_postal_code_of_another_shape_is_no_zip3(tmp_path, ws):
    """A US ZIP (5 digits, ZIP+4, 3 digits) gives its first 3 digits; another postal code (a 4-digit
    ZIP whose 0 was lost, a Norwegian 0150) has no prefix: its digits' first 3 gave a wrong zip3. It
    becomes a marker that breaks patients.zip.format (a warning; zip3 stored NULL), never its text."""
    codes = {"p1": "02139", "p2": "02139-4307", "p3": " 021 ", "p4": "2139", "p5": "0150", "p6": "SW1A 1AA",
             "p7": "021 39", "p8": ""}
    patients = [{**PATIENT, "id": pid, "address": [{"postalCode": pc}]} for pid, pc in codes.items()]
    read_export(ws, "fhir", ndjson_export(tmp_path / "e", patients + [{**PATIENT, "id": "p9"}]), registry_id="r")
    got = dict(rows(ws, "patients", "patient_id, zip"))
    assert got == {"p1": "021", "p2": "021", "p3": "021", "p4": "not a ZIP", "p5": "not a ZIP", "p6": "not a ZIP",
                   "p7": "not a ZIP", "p8": None, "p9": None}


def test_cssrs_most_severe_ideation_of_the_month_is_the_ideation_level(tmp_path, ws):
    # LOINC 93293-9 "Most severe suicidal ideation 1 month", answered from LL5434-7 (LA30370-3 = 1 ...
    # LA30374-5 = 5), is CSSRS_IDEATION; it was not read, so a FHIR registry's C-SSRS never loaded and
    # its ideation >= 4 never raised the safety alert. The lifetime term 93294-7 is no current level.
    def cssrs(oid: str, code: str, answer: str) -> dict:
        return {"resourceType": "Observation", "id": oid, "status": "final", "code": _coding("http://loinc.org", code),
                "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2026-01-10T10:00:00Z",
                "valueCodeableConcept": _codings((LOCAL, "x"), ("http://loinc.org", answer))}
    export = ndjson_export(tmp_path / "e", [
        PATIENT, cssrs("wish", "93293-9", "LA30370-3"), cssrs("intent", "93293-9", "LA30373-7"),
        cssrs("plan", "93293-9", "LA30374-5"), cssrs("lifetime", "93294-7", "LA30374-5")])
    read_export(ws, "fhir", export, registry_id="r")
    assert sorted(rows(ws, "assessments", "assessment_id, instrument, total_score")) == [
        ("intent", "CSSRS_IDEATION", "4"), ("plan", "CSSRS_IDEATION", "5"), ("wish", "CSSRS_IDEATION", "1")]
