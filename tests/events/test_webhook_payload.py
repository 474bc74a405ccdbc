"""The webhook body of the notification automations is valid JSON for any export label (a rejected
export whose manifest cannot be read is labelled by its file or folder name)."""
from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("export", ['Export "January".zip', "C:\\exports\\jan", "plain-id"])
def test_payload_template_renders_valid_json(export):
    import jinja2

    from flows.automations import PAYLOAD_TEMPLATE
    from flows.events import build_outcome_events

    ev = build_outcome_events({"registry_id": "north", "export_id": export, "status": "rejected",
                               "reason": 'manifest.json: "exported_at" is not a date'}, [], "outcomes")[0]
    event = {"event": ev["event"], "resource": ev["resource"], "payload": ev["payload"],
             "occurred": "2026-01-01T00:00:00Z"}
    body = json.loads(jinja2.Environment().from_string(PAYLOAD_TEMPLATE).render(event=event))
    assert body["export"] == export and body["registry"] == "north"
    assert body["reason"] == 'manifest.json: "exported_at" is not a date'
    alert = build_outcome_events({"registry_id": "north", "export_id": "e", "status": "loaded"},
                                 [("assessments.phq9_item9.positive", "assessments", 2)], "outcomes")[1]
    body = json.loads(jinja2.Environment().from_string(PAYLOAD_TEMPLATE).render(
        event={**alert, "occurred": "2026-01-01T00:00:00Z"}))
    assert body["description"] == "PHQ-9 item 9 >= 1" and body["rule"] == "assessments.phq9_item9.positive"
