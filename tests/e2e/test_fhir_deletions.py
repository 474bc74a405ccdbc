"""End-to-end: an incremental FHIR Bulk export's `deleted` files withdraw exactly the records they
name, through the real ingest flow, by the warehouse's rules (a later version wins whatever the
arrival order; as_of agrees; a withdrawn patient takes its records with it)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from exports import BASE, write_export
from whquery import query

from flows.ingest import ingest_export
from synth.formats import fhir as to_fhir

pytestmark = pytest.mark.e2e

REGISTRY = "fhir-del"
FULL_AT = "2025-01-31T23:00:00Z"


def _full(root: Path) -> Path:
    """The full FHIR export: BASE plus a second adverse event and a second PHQ-9."""
    t = copy.deepcopy(BASE)
    t["adverse_events"].append({**t["adverse_events"][0], "ae_id": "E2", "term": "nausea", "meddra_pt": "Nausea"})
    t["assessments"].append({**t["assessments"][0], "assessment_id": "A4", "patient_id": "MRN-1002",
                             "total_score": "18", "item_scores": "2;2;2;2;2;2;2;2;2",
                             "assessed_at": "2025-01-12T09:00:00Z"})
    kor = write_export(root / "kor", t, registry=REGISTRY, exported_at=FULL_AT)
    return to_fhir.convert(kor, root / "full")


def _resource(full: Path, rtype: str, rid: str) -> dict:
    for line in (full / f"{rtype}.000.ndjson").read_text().splitlines():
        r = json.loads(line)
        if r.get("id") == rid:
            return r
    raise KeyError(rid)


def _incremental(root: Path, name: str, at: str, resources: list[dict], deleted: list[str]) -> Path:
    """An export pulled with _since, as the Bulk client lands it: output, deleted Bundles, manifest."""
    dst = root / name
    dst.mkdir(parents=True)
    output = []
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    for t, rs in by_type.items():
        (dst / f"{t}.output.000.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rs))
        output.append({"type": t, "url": f"{t}.output.000.ndjson"})
    bundle = {"resourceType": "Bundle", "type": "transaction",
              "entry": [{"request": {"method": "DELETE", "url": ref}} for ref in deleted]}
    (dst / "Bundle.deleted.000.ndjson").write_text(json.dumps(bundle) + "\n")
    (dst / "manifest.json").write_text(json.dumps({
        "transactionTime": at, "request": f"https://ehr.invalid/fhir/$export?_since={FULL_AT}",
        "requiresAccessToken": True, "output": output, "error": [],
        "deleted": [{"type": "Bundle", "url": "Bundle.deleted.000.ndjson"}]}))
    (dst / "export.json").write_text(json.dumps({"format": "fhir", "registry_id": REGISTRY, "export_id": name,
                                                 "since": FULL_AT, "mode": "incremental"}))
    return dst


def _ingest(folder: Path, wh: str, threshold: float = 0.05) -> dict:
    r = ingest_export(str(folder), warehouse=wh, adapter="fhir", reject_threshold=threshold)
    assert r["status"] == "loaded", (r["reason"], r["rules_broken"])
    return r


def _ids(wh: str, sql: str) -> set:
    return {r[0] for r in query(wh, sql)}


def test_an_incremental_export_withdraws_exactly_the_deleted_records(tmp_path, wh):
    full = _full(tmp_path)
    first = _ingest(full, wh)
    assert _ids(wh, "SELECT ae_id FROM core.adverse_events") == {"E1", "E2"}
    assert _ids(wh, "SELECT assessment_id FROM core.assessments") == {"A1", "A2", "A3", "A4"}
    # Feb: the EHR deleted AdverseEvent E1 and PHQ-9 Observation A1 (entered in error), changed A3,
    # and lists an adverse event the warehouse never had
    a3 = _resource(full, "Observation", "A3")
    a3["valueInteger"] = 30
    feb = _incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [a3],
                       ["AdverseEvent/E1", "Observation/A1", "AdverseEvent/E-never"])
    r = _ingest(feb, wh)
    assert _ids(wh, "SELECT ae_id FROM core.adverse_events") == {"E2"}
    assert _ids(wh, "SELECT assessment_id FROM core.assessments") == {"A2", "A3", "A4"}
    assert query(wh, "SELECT total_score FROM core.assessments WHERE assessment_id = 'A3'") == [(30,)]
    assert _ids(wh, "SELECT lab_id FROM core.labs") == {"L1"}
    assert r["tables"]["adverse_events"]["withdrawn"] == 1 and r["tables"]["assessments"]["withdrawn"] == 1
    assert r["tables"]["labs"]["withdrawn"] == 0 and r["tables"]["patients"]["withdrawn"] == 0
    assert r["tables"]["adverse_events"]["notes"]["deletions"] == {"listed": 2, "withdrawn": 1,
                                                                    "not in the warehouse": 1}
    # the Observation is listed for labs too (its code is not in the deletion): no such lab
    assert r["tables"]["labs"]["notes"]["deletions"] == {"listed": 1, "not in the warehouse": 1}
    # history: the last version, then a withdrawal dated as the export that deleted it
    assert query(wh, "SELECT op, export_id, exported_at::VARCHAR FROM history.adverse_events WHERE ae_id = 'E1' "
                     "ORDER BY exported_at") == [("upsert", "2025-01-31T23-00-00Z", "2025-01-31 23:00:00+00"),
                                                  ("withdraw", "feb-incr", "2025-02-28 23:00:00+00")]
    assert query(wh, "SELECT op FROM history.assessments WHERE assessment_id = 'A1' ORDER BY exported_at") == [
        ("upsert",), ("withdraw",)]
    # a record never loaded: its withdrawal is remembered (a late export of it cannot bring it back)
    assert query(wh, "SELECT op, export_id FROM history.adverse_events WHERE ae_id = 'E-never'") == [
        ("withdraw", "feb-incr")]
    assert "E-never" not in _ids(wh, f"SELECT ae_id FROM history.adverse_events_as_of({r['load_id']})")
    # as of the full load both are still there; as of the incremental they are gone, as core says
    before, after = first["load_id"], r["load_id"]
    assert _ids(wh, f"SELECT ae_id FROM history.adverse_events_as_of({before})") == {"E1", "E2"}
    assert _ids(wh, f"SELECT assessment_id FROM history.assessments_as_of({before})") == {"A1", "A2", "A3", "A4"}
    assert _ids(wh, f"SELECT ae_id FROM history.adverse_events_as_of({after})") == {"E2"}
    assert _ids(wh, f"SELECT assessment_id FROM history.assessments_as_of({after})") == {"A2", "A3", "A4"}
    ledger = query(wh, "SELECT row_counts FROM ops.loads WHERE load_id = ?", [after])[0][0]
    assert json.loads(ledger)["adverse_events"]["withdrawn"] == 1


def test_arrival_order_a_later_version_wins_over_a_deletion_and_a_deletion_over_an_older_version(tmp_path, wh):
    full = _full(tmp_path)
    _ingest(full, wh)
    e1, e2 = _resource(full, "AdverseEvent", "E1"), _resource(full, "AdverseEvent", "E2")
    # E2 updated in March, loaded first; then a February export that deleted E2 arrives late: E2 was
    # re-created (or its deletion is older than the version), so the March version stays current
    e2["severity"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/adverse-event-severity",
                                  "code": "severe"}]}
    _ingest(_incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [e2], []), wh)
    late = _ingest(_incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [], ["AdverseEvent/E2"]), wh)
    assert query(wh, "SELECT ae_id, severity FROM core.adverse_events WHERE ae_id = 'E2'") == [("E2", "severe")]
    assert query(wh, "SELECT count(*) FROM history.adverse_events WHERE ae_id = 'E2' AND op = 'withdraw'") == [(0,)]
    assert late["tables"]["adverse_events"]["withdrawn"] == 0
    assert late["tables"]["adverse_events"]["notes"]["deletions"] == {
        "listed": 1, "kept: a newer version, or another resource type's record": 1}
    # E1 deleted in April; an older export carrying a version of E1 arrives after it: not resurrected
    _ingest(_incremental(tmp_path, "apr-incr", "2025-04-30T23:00:00Z", [], ["AdverseEvent/E1"]), wh)
    e1["event"]["text"] = "felt detached (amended)"
    _ingest(_incremental(tmp_path, "feb15-incr", "2025-02-15T23:00:00Z", [e1], []), wh)
    assert _ids(wh, "SELECT ae_id FROM core.adverse_events") == {"E2"}
    assert query(wh, "SELECT op, export_id FROM history.adverse_events WHERE ae_id = 'E1' ORDER BY exported_at") == [
        ("upsert", "2025-01-31T23-00-00Z"), ("upsert", "feb15-incr"), ("withdraw", "apr-incr")]
    # and a deletion listed again later is written again, harmlessly (the record is gone already)
    again = _ingest(_incremental(tmp_path, "may-incr", "2025-05-31T23:00:00Z", [], ["AdverseEvent/E1"]), wh)
    assert again["tables"]["adverse_events"]["withdrawn"] == 0
    assert _ids(wh, "SELECT ae_id FROM core.adverse_events") == {"E2"}


def test_a_deleted_patient_takes_its_records_with_it_and_its_id_never_reaches_the_warehouse(tmp_path, wh):
    full = _full(tmp_path)
    _ingest(full, wh)
    key = query(wh, "SELECT patient_key FROM core.sessions WHERE session_id = 'S2'")[0][0]
    r = _ingest(_incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [],
                             ["Patient/MRN-1002", "Encounter/S1", "MedicationAdministration/ma-S1"]), wh)
    assert query(wh, "SELECT count(*) FROM core.patients WHERE patient_key = ?", [key]) == [(0,)]
    for table in ("sessions", "assessments", "labs"):  # MRN-1002's S2, A3, A4, L1; and S1 by its Encounter
        assert query(wh, f"SELECT count(*) FROM core.{table} WHERE patient_key = ?", [key]) == [(0,)], table
    assert _ids(wh, "SELECT session_id FROM core.sessions") == set()
    assert _ids(wh, "SELECT DISTINCT session_id FROM core.vitals") == set()  # cascaded with their sessions
    assert _ids(wh, "SELECT assessment_id FROM core.assessments") == {"A1", "A2"}
    t = r["tables"]
    assert t["patients"]["withdrawn"] == 1 and t["sessions"]["withdrawn"] == 2
    assert t["sessions"]["withdrawn_with_parent"] == 1 and t["labs"]["withdrawn_with_parent"] == 1
    # ma-S1 was given in Encounter S1, so no session is keyed by it: its deletion withdraws nothing
    # itself (S1 goes by its Encounter's deletion), and no other session of that id is touched
    assert t["sessions"]["notes"]["deletions"]["not in the warehouse"] == 1
    text = json.dumps(query(wh, "SELECT * FROM ops.loads"), default=str)
    text += json.dumps(query(wh, "SELECT * FROM history.patients"), default=str)
    assert "MRN-1002" not in text


def test_an_id_deleted_under_another_resource_type_withdraws_nothing(tmp_path, wh):
    # FHIR ids are unique per resource type only: assessment Q7 made from QuestionnaireResponse/Q7 is
    # not the record of a deleted Observation/Q7 (a vital sign, say); the response's deletion is.
    full = _full(tmp_path)
    qr = {"resourceType": "QuestionnaireResponse", "id": "Q7", "status": "completed",
          "questionnaire": "Questionnaire/phq-9", "subject": {"reference": "Patient/MRN-1001"},
          "authored": "2025-01-20T10:00:00Z", "item": [{"linkId": "44261-6", "answer": [{"valueInteger": 9}]}]}
    (full / "QuestionnaireResponse.000.ndjson").write_text(json.dumps(qr) + "\n")
    manifest = json.loads((full / "manifest.json").read_text())
    manifest["output"].append({"type": "QuestionnaireResponse", "url": "QuestionnaireResponse.000.ndjson"})
    (full / "manifest.json").write_text(json.dumps(manifest))
    _ingest(full, wh)
    assert "Q7" in _ids(wh, "SELECT assessment_id FROM core.assessments")
    r = _ingest(_incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [], ["Observation/Q7"]), wh)
    assert "Q7" in _ids(wh, "SELECT assessment_id FROM core.assessments")
    assert r["tables"]["assessments"]["notes"]["deletions"] == {
        "listed": 1, "kept: a newer version, or another resource type's record": 1}
    r = _ingest(_incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [], ["QuestionnaireResponse/Q7"]), wh)
    assert "Q7" not in _ids(wh, "SELECT assessment_id FROM core.assessments")
    assert r["tables"]["assessments"]["withdrawn"] == 1


def test_a_deleted_combined_phq9_and_gad7_response_withdraws_both_its_assessments(tmp_path, wh):
    # A "PHQ-9 and GAD-7" response makes two records: its PHQ-9 under the response id and its GAD-7
    # under "<id>#GAD7". Deleting the response withdraws both; deleting a one-instrument response
    # lists only its own record (no "not in the warehouse" for a GAD-7 part it never had).
    from transforms.adapters.fhir_codes import GAD7_ITEMS, PHQ9_ITEMS

    full = _full(tmp_path)

    def group(codes, code):
        return [{"linkId": c, "answer": [{"valueCoding": {"system": "http://loinc.org", "code": code}}]} for c in codes]

    base = {"resourceType": "QuestionnaireResponse", "status": "completed", "subject": {"reference": "Patient/MRN-1001"},
            "authored": "2025-01-20T10:00:00Z"}
    both = {**base, "id": "Q8", "questionnaire": "Questionnaire/phq-9-gad-7",
            "item": [{"linkId": "phq", "item": group(PHQ9_ITEMS, "LA6569-3")},
                     {"linkId": "gad", "item": group(GAD7_ITEMS, "LA6570-1")}]}
    single = {**base, "id": "Q9", "questionnaire": "Questionnaire/phq-9",
              "item": [{"linkId": "44261-6", "answer": [{"valueInteger": 9}]}]}
    (full / "QuestionnaireResponse.000.ndjson").write_text(json.dumps(both) + "\n" + json.dumps(single) + "\n")
    manifest = json.loads((full / "manifest.json").read_text())
    manifest["output"].append({"type": "QuestionnaireResponse", "url": "QuestionnaireResponse.000.ndjson"})
    (full / "manifest.json").write_text(json.dumps(manifest))
    _ingest(full, wh)
    assert dict(query(wh, "SELECT assessment_id, total_score FROM core.assessments WHERE assessment_id LIKE 'Q%'")) == {
        "Q8": 9, "Q8#GAD7": 14, "Q9": 9}
    r = _ingest(_incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [], ["QuestionnaireResponse/Q8"]), wh)
    assert _ids(wh, "SELECT assessment_id FROM core.assessments WHERE assessment_id LIKE 'Q%'") == {"Q9"}
    assert r["tables"]["assessments"]["notes"]["deletions"] == {"listed": 2, "withdrawn": 2}
    r = _ingest(_incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [], ["QuestionnaireResponse/Q9"]), wh)
    assert _ids(wh, "SELECT assessment_id FROM core.assessments WHERE assessment_id LIKE 'Q%'") == set()
    assert r["tables"]["assessments"]["notes"]["deletions"] == {"listed": 1, "withdrawn": 1}


def test_encounter_and_administration_deletions_withdraw_only_the_sessions_their_type_keyed(tmp_path, wh):
    """A session without an Encounter is keyed by its administration ("MedicationAdministration/<id>").
    An Encounter deleted under that id (ids are unique per type only) withdrew it, cascading to its
    vitals; the administration's own deletion was skipped (review, session 7)."""
    full = _full(tmp_path)
    p = full / "MedicationAdministration.000.ndjson"
    admins = [json.loads(line) for line in p.read_text().splitlines()]
    for m in admins:
        if m["id"] == "ma-S1":
            m.pop("context", None)
    p.write_text("".join(json.dumps(m) + "\n" for m in admins))
    # S1's CADSS names Encounter S1, no session now: quarantined (a peri-dose score needs its session)
    r = _ingest(full, wh, threshold=1.0)
    assert r["rules_broken"] == {"assessments.session_id.peri_dose": 1, "assessments.minutes_after_dose.peri_dose": 1}
    assert "MedicationAdministration/ma-S1" in _ids(wh, "SELECT session_id FROM core.sessions")
    r = _ingest(_incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [], ["Encounter/ma-S1"]), wh)
    assert "MedicationAdministration/ma-S1" in _ids(wh, "SELECT session_id FROM core.sessions") and r["tables"]["sessions"]["withdrawn"] == 0
    r = _ingest(_incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [],
                             ["MedicationAdministration/ma-S1"]), wh)
    assert "MedicationAdministration/ma-S1" not in _ids(wh, "SELECT session_id FROM core.sessions")
    assert r["tables"]["sessions"]["withdrawn"] == 1


def test_a_deletion_arriving_before_its_record_is_remembered(tmp_path, wh):
    """April's export deletes AdverseEvent E3 and Patient MRN-1003 that March's export created; April
    arrives first. The deletions found nothing then, were forgotten, and March loaded both as
    current (review, session 7): a deleted record back in safety reports, a deleted patient back."""
    full = _full(tmp_path)
    _ingest(full, wh)
    e3 = {**_resource(full, "AdverseEvent", "E2"), "id": "E3"}
    p3 = {**_resource(full, "Patient", "MRN-1002"), "id": "MRN-1003"}
    s3 = {**_resource(full, "MedicationAdministration", "ma-S1"), "id": "ma-S9",
          "subject": {"reference": "Patient/MRN-1003"}}
    s3.pop("context", None)
    mar = _incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [e3, p3, s3], [])
    apr = _incremental(tmp_path, "apr-incr", "2025-04-30T23:00:00Z", [], ["AdverseEvent/E3", "Patient/MRN-1003"])
    r = _ingest(apr, wh)
    assert r["tables"]["adverse_events"]["notes"]["deletions"] == {"listed": 1, "not in the warehouse": 1}
    patients = query(wh, "SELECT count(*) FROM core.patients")[0][0]
    _ingest(mar, wh)
    assert "E3" not in _ids(wh, "SELECT ae_id FROM core.adverse_events")
    assert query(wh, "SELECT count(*) FROM core.patients")[0][0] == patients
    # the deleted patient's session, loaded beside it by the late export, does not stay current alone
    assert "MedicationAdministration/ma-S9" not in _ids(wh, "SELECT session_id FROM core.sessions")
    assert "MedicationAdministration/ma-S9" in _ids(wh, "SELECT session_id FROM history.sessions")
    # and the export order seen from history: E3 as of March's load is gone (April's withdrawal is later)
    assert query(wh, "SELECT op FROM history.adverse_events WHERE ae_id = 'E3' ORDER BY exported_at") == [
        ("upsert",), ("withdraw",)]


def test_a_late_deletion_of_a_patient_re_sent_since_takes_its_older_records_as_in_exported_at_order(tmp_path):
    """February deletes MRN-1002; March re-sends the patient (none of its records). Loaded in that
    order the deletion takes the patient's sessions, vitals, scores and labs with it and March brings
    back the patient alone. Arriving after March, the deletion could not withdraw the patient (its
    newer version wins) and left those records current (review, session 13)."""
    full = _full(tmp_path)
    mar = _incremental(tmp_path, "mar-incr", "2025-03-31T23:00:00Z", [_resource(full, "Patient", "MRN-1002")], [])
    feb = _incremental(tmp_path, "feb-incr", "2025-02-28T23:00:00Z", [], ["Patient/MRN-1002"])
    states = []
    for order in ((full, feb, mar), (full, mar, feb)):
        wh = str(tmp_path / f"w{len(states)}.duckdb")
        for export in order:
            _ingest(export, wh)
        states.append({t: _ids(wh, f"SELECT {k} FROM core.{t}") for t, k in (
            ("patients", "patient_key"), ("sessions", "session_id"), ("vitals", "session_id || timepoint"),
            ("assessments", "assessment_id"), ("labs", "lab_id"))})
    assert states[0] == states[1]
    assert len(states[1]["patients"]) == 2 and states[1]["labs"] == set()
    assert states[1]["assessments"] == {"A1", "A2"}
