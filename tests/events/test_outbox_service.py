"""Notifications are not lost to a crash: a service killed between a load's commit and the send
of its events sends them when it comes back (flows/outbox.py), through the real Prefect API."""
from __future__ import annotations

import os
from datetime import datetime, timezone

import duckdb

from tests.events.service import Service, land, read_events, wait_for
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


def test_events_a_prefect_server_lost_are_posted_again(prefect_server, tmp_path):
    """A real server killed between accepting a load's events and writing them (its persister
    flushes every 5 s by default; 120 s here, so the window is wide open): the flush that posted
    them does not mark the load sent, and once the server is back the next flush finds them
    missing from its store and posts them again."""
    import signal

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.ingest import ingest_export
    from flows.outbox import flush, stored_ids
    from flows.serve_command import start_server, stop
    from tests.events.service import free_port

    wh = str(tmp_path / "wh.duckdb")
    r = ingest_export(str(write_export(tmp_path / "src", _alert_tables(), registry="reg-lost", export_id="l1")),
                      warehouse=wh, notify="svc-lost")
    assert r["status"] == "loaded"
    home, port = tmp_path / "home", free_port()
    slow = {"PREFECT_UI_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
            "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL": "120"}
    proc, api = start_server("127.0.0.1", port, home, tmp_path / "server.log", slow)
    try:
        with temporary_settings({PREFECT_API_URL: api}):
            posted = flush(wh, "svc-lost", wait=2)
        assert posted and any(e["event"] == "outcomes.safety.alert" for e in posted)
        os.killpg(proc.pid, signal.SIGKILL)  # before its persister wrote them
        proc.wait(30)
    finally:
        stop(proc, "prefect server")

    def unsent():
        con = duckdb.connect(wh, read_only=True)
        try:
            return con.execute("SELECT count(*) FROM ops.outbox WHERE sent_at IS NULL").fetchone()[0]
        finally:
            con.close()

    assert unsent() == 1, "accepted is not stored: the load must stay unsent"
    proc, api = start_server("127.0.0.1", port, home, tmp_path / "server.log",
                             {"PREFECT_UI_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"})
    try:
        with temporary_settings({PREFECT_API_URL: api}):
            assert stored_ids(posted) == set(), "the killed server lost them (else this test shows nothing)"
            again = flush(wh, "svc-lost", wait=30)
            assert [e["id"] for e in again] == [e["id"] for e in posted]
            assert stored_ids(posted) == {e["id"] for e in posted}
        assert unsent() == 0
    finally:
        stop(proc, "prefect server")
