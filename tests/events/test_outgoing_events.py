"""Rejections and safety alerts become Prefect events, read back from the server's event API;
they carry registry, export and rule, and never a patient identifier."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from tests.events.service import land, read_events, wait_for
from tests.exports import ADVERSE_EVENTS, ASSESSMENTS, BASE, LABS, VITALS, write_export

DEADLINE = 45.0


def _alert_tables() -> dict:
    t = dict(BASE)
    t["vitals"] = VITALS + [
        {"session_id": "S2", "timepoint": "post40", "minutes_after_dose": "40", "sbp": "185", "dbp": "95",
         "heart_rate": "80", "spo2": "88"},
    ]
    t["assessments"] = ASSESSMENTS + [
        {"assessment_id": "A9", "patient_id": "MRN-1002", "assessed_at": "2025-01-12T09:00:00Z", "instrument": "PHQ9",
         "total_score": "10", "item_scores": "1;1;1;1;1;1;1;1;2"},
        {"assessment_id": "A10", "patient_id": "MRN-1002", "assessed_at": "2025-01-12T09:05:00Z",
         "instrument": "CSSRS_IDEATION", "total_score": "4"},
        {"assessment_id": "A11", "patient_id": "MRN-1002", "session_id": "S2", "assessed_at": "2025-01-11T10:30:00Z",
         "instrument": "MOAAS", "total_score": "0", "minutes_after_dose": "30"},
    ]
    t["adverse_events"] = ADVERSE_EVENTS + [
        {"ae_id": "E2", "patient_id": "MRN-1002", "session_id": "S2", "onset_date": "2025-01-11", "term": "syncope",
         "meddra_pt": "Syncope", "severity": "severe", "serious": "1", "hospitalization": "1",
         "related": "possible", "outcome": "recovered", "resolved_date": "2025-01-12"},
    ]
    t["labs"] = LABS + [
        {"lab_id": "L2", "patient_id": "MRN-1001", "collected_on": "2025-01-20", "test": "ALT", "value": "200",
         "unit": "U/L", "uln": "40"},
    ]
    return t


def test_rejected_export_emits_rejected_event_with_reason(service, tmp_path, prefect_server):
    since = datetime.now(timezone.utc).isoformat()
    src = write_export(tmp_path, registry="reg-r", export_id="bad-contract",
                       manifest_overrides={"contract": "ketamine-outcomes-export/9"})
    land(src, service.landing / "reg-r")
    rows = service.wait_loaded("reg-r", ["bad-contract"], timeout=DEADLINE)
    assert rows[0][2] == "rejected"

    def got():
        return [e for e in read_events(prefect_server, "outcomes.export.rejected", since)
                if e["resource"].get("outcomes.registry") == "reg-r"]

    events = wait_for(got, 30, what="outcomes.export.rejected event")
    e = events[0]
    assert e["resource"]["outcomes.export"] == "bad-contract"
    assert "contract" in e["payload"]["reason"]
    assert e["payload"]["registry"] == "reg-r"


def test_alert_rules_emit_one_event_each_without_patient_identifiers(service, tmp_path, prefect_server):
    since = datetime.now(timezone.utc).isoformat()
    src = write_export(tmp_path, _alert_tables(), registry="reg-s", export_id="with-alerts")
    land(src, service.landing / "reg-s")
    rows = service.wait_loaded("reg-s", ["with-alerts"], timeout=DEADLINE)
    assert rows[0][2] == "loaded", rows
    expected = {r for (r,) in service.sql("SELECT DISTINCT rule FROM ops.alerts WHERE load_id = ?", [rows[0][3]])}
    assert {"vitals.spo2.low", "assessments.phq9_item9.positive", "assessments.cssrs.ideation_high",
            "assessments.moaas.unresponsive", "adverse_events.serious.sae", "labs.value.hepatic_3x_uln",
            "vitals.sbp.post_dose_high"} <= expected, expected

    def got():
        ev = [e for e in read_events(prefect_server, "outcomes.safety.alert", since)
              if e["resource"].get("outcomes.registry") == "reg-s"]
        return ev if {e["payload"]["rule"] for e in ev} >= expected else None

    events = wait_for(got, 30, what="one outcomes.safety.alert per rule")
    for e in events:
        assert e["payload"]["export_id"] == "with-alerts"
        assert e["resource"]["outcomes.rule"] == e["payload"]["rule"]
    blob = json.dumps(events)
    keys = [k for (k,) in service.sql("SELECT DISTINCT patient_key FROM ops.alerts WHERE patient_key IS NOT NULL")]
    assert "MRN-" not in blob
    assert not any(k in blob for k in keys), "a patient key leaked into an event"
    loaded = wait_for(lambda: [e for e in read_events(prefect_server, "outcomes.export.loaded", since)
                               if e["resource"].get("outcomes.registry") == "reg-s"], 30, what="loaded event")
    assert loaded[0]["payload"]["load_id"] == rows[0][3]


def test_report_cron_deployment_exists_with_schedule(service, prefect_server):
    import httpx

    r = httpx.get(f"{prefect_server}/deployments/name/monthly-report/{service.name}-all", timeout=10)
    r.raise_for_status()
    schedules = r.json()["schedules"]
    assert len(schedules) == 1
    s = schedules[0]["schedule"]
    assert s["cron"] == "0 6 1 * *" and s["timezone"] == "UTC"
    assert schedules[0]["active"] is True


def _send_to(api_url: str, events: list[dict]) -> None:
    """Send straight to this server: the process-wide events worker may belong to another test
    folder's temporary server (prefect_test_harness) when the suite runs in one worker."""
    import asyncio

    from prefect.events import Event
    from prefect.events.clients import PrefectEventsClient

    async def go():
        async with PrefectEventsClient(api_url=api_url) as client:
            for e in events:
                await client.emit(Event(event=e["event"], resource=e["resource"], payload=e.get("payload") or {}))

    asyncio.run(go())


def test_automation_calls_webhook_on_rejection(service, prefect_server):
    """The notification automation (created as `outcomes serve` does) calls its webhook target."""
    import http.server
    import threading

    from flows.automations import ensure_automations
    from outcomes.config import parse_config
    from tests.events.service import free_port

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *a):
            pass

    port = free_port()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        # an instance name of its own: the running service re-syncs the automations of *its* name
        # whenever it (re)starts (other tests restart it), which would remove this one
        name = f"{service.name}-webhook"
        cfg = parse_config({"service": {"name": name},
                            "registries": {"reg-w": {"notify": [f"http://127.0.0.1:{port}/hook"]}}})
        assert ensure_automations(cfg) == [f"automation '{name}: notify reg-w': 1 webhook target(s)"]
        from flows.events import build_outcome_events

        # the server's trigger service picks new automations up on its own schedule: re-send the
        # event until the automation has seen one (each send is an independent rejection event)
        import time as _time

        deadline = _time.monotonic() + 120
        while not received and _time.monotonic() < deadline:
            _send_to(prefect_server, build_outcome_events(
                {"registry_id": "reg-w", "export_id": "w1", "status": "rejected",
                 "reason": "rejected share over the threshold"}, [], name))
            for _ in range(50):
                if received:
                    break
                _time.sleep(0.2)
        got = wait_for(lambda: received, 5, what="the webhook call")
        assert got[0]["event"] == "outcomes.export.rejected"
        assert (got[0]["registry"], got[0]["export"]) == ("reg-w", "w1")
        assert "threshold" in got[0]["reason"]
    finally:
        httpd.shutdown()
