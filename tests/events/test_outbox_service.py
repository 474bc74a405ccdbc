"""Notifications are not lost to a crash: a service killed between a load's commit and the send
of its events sends them when it comes back (flows/outbox.py), through the real Prefect API."""
from __future__ import annotations

from datetime import datetime, timezone

from tests.events.conftest import Service, land, read_events, wait_for
from tests.events.test_outgoing_events import _alert_tables
from tests.exports import write_export


def test_post_events_is_accepted_once_per_id(prefect_server):
    from flows.outbox import post_events

    since = datetime.now(timezone.utc).isoformat()
    event = {"event": "outcomes.export.rejected", "id": "0b8f6f55-7a47-4c5e-9d1e-6f1f3b0f0a11",
             "occurred": since, "payload": {"reason": "test"},
             "resource": {"prefect.resource.id": "outcomes.export.reg-p.p1", "outcomes.registry": "reg-p",
                          "outcomes.export": "p1", "outcomes.instance": "t-outbox"}}
    post_events([event])
    post_events([event])  # a repeat after a crash between the send and the mark

    def got():
        return [e for e in read_events(prefect_server, "outcomes.export.rejected", since)
                if e["resource"].get("outcomes.registry") == "reg-p"]

    wait_for(got, 60, what="the posted event")
    assert [e["id"] for e in got()] == [event["id"]]


def test_killed_after_commit_then_restarted_sends_the_alerts(prefect_server, tmp_path):
    since = datetime.now(timezone.utc).isoformat()
    root = tmp_path / "svc"
    root.mkdir()
    svc = Service(root, prefect_server, env={"OUTCOMES_TEST_FAULT": "after_commit"}).start()
    try:
        land(write_export(tmp_path / "src", _alert_tables(), registry="reg-ob", export_id="ob1"),
             svc.landing / "reg-ob")
        wait_for(lambda: svc.proc.poll() == 137 or b"Process exited with status code: 137" in svc.log.read_bytes(),
                 180, what="the service to die after the commit")
        assert [(r[1], r[2]) for r in svc.loads() if r[0] == "reg-ob"] == [("ob1", "loaded")]
        assert svc.sql("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL AND registry_id = 'reg-ob'")[0][0] == 1
        if svc.proc.poll() is not None:
            svc.wait_gone(90)
    finally:
        svc.kill()

    def alerts():
        return [e for e in read_events(prefect_server, "outcomes.safety.alert", since)
                if e["resource"].get("outcomes.registry") == "reg-ob"]

    assert alerts() == [], "nothing was sent before the crash"
    svc.env.pop("OUTCOMES_TEST_FAULT")
    svc.start()  # its sweep at start finds the unsent load
    try:
        got = wait_for(alerts, 180, what="the alerts of the load committed before the crash")
        rules = {e["payload"]["rule"] for e in got}
        assert {"assessments.phq9_item9.positive", "adverse_events.serious.sae"} <= rules, rules
        assert all(e["resource"]["outcomes.export"] == "ob1" for e in got)
        loaded = [e for e in read_events(prefect_server, "outcomes.export.loaded", since)
                  if e["resource"].get("outcomes.registry") == "reg-ob"]
        assert len(loaded) == 1
        wait_for(lambda: svc.sql("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL")[0][0] == 0, 60,
                 what="the outbox row marked sent")
        assert [(r[1], r[2]) for r in svc.loads() if r[0] == "reg-ob"] == [("ob1", "loaded")]  # loaded once
    finally:
        svc.stop()
