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
