"""The notification outbox (flows/outbox.py) on real ingest flow runs: a service's load queues its
events in the load's own transaction; a flush sends them once, and again after a failed send."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from flows.ingest import ingest_export
from flows.outbox import event_id, flush
from tests.exports import write_export
from tests.events.test_outgoing_events import _alert_tables

ROOT = Path(__file__).resolve().parents[2]


def _outbox(wh) -> list[tuple]:
    con = duckdb.connect(wh, read_only=True)
    try:
        return con.execute("SELECT load_id, registry_id, instance, sent_at IS NOT NULL FROM ops.outbox "
                           "ORDER BY load_id").fetchall()
    finally:
        con.close()


def test_a_service_load_is_queued_and_sent_once(tmp_path, wh):
    src = write_export(tmp_path / "src", _alert_tables(), registry="reg-o", export_id="o1")
    r = ingest_export(str(src), warehouse=wh, notify="svc")
    assert r["status"] == "loaded"
    assert _outbox(wh) == [(r["load_id"], "reg-o", "svc", False)]
    assert flush(wh, "other-instance", send=lambda ev: pytest.fail("another instance's row sent")) == []

    sent: list[list[dict]] = []
    events = flush(wh, "svc", "reg-o", send=sent.append)
    assert [e["event"] for e in events][0] == "outcomes.export.loaded"
    rules = sorted(e["payload"]["rule"] for e in events if e["event"] == "outcomes.safety.alert")
    assert "assessments.phq9_item9.positive" in rules and "adverse_events.serious.sae" in rules, rules
    loaded = events[0]["payload"]
    assert loaded["rows"]["assessments"] == r["tables"]["assessments"]["loaded"]
    assert all(e["resource"]["outcomes.export"] == "o1" for e in events)
    assert len({e["id"] for e in events}) == len(events)
    assert _outbox(wh) == [(r["load_id"], "reg-o", "svc", True)]
    assert flush(wh, "svc", send=lambda ev: pytest.fail("sent twice")) == []  # marked: nothing left


def test_a_failed_send_stays_queued_and_goes_out_with_the_same_ids(tmp_path, wh):
    bad = write_export(tmp_path / "src", registry="reg-o", export_id="bad",
                       manifest_overrides={"contract": "ketamine-outcomes-export/9"})
    r = ingest_export(str(bad), warehouse=wh, notify="svc")
    assert r["status"] == "rejected"

    def down(events):
        raise ConnectionError("API unreachable")

    assert flush(wh, "svc", send=down) == []
    assert _outbox(wh) == [(r["load_id"], "reg-o", "svc", False)]
    from click.testing import CliRunner

    from outcomes.cli import cli

    waiting = CliRunner().invoke(cli, ["status", "-w", wh])
    assert "Notifications waiting to be sent" in waiting.output and "reg-o" in waiting.output, waiting.output
    as_json = json.loads(CliRunner().invoke(cli, ["status", "-w", wh, "--json"]).output)
    assert [(u["registry_id"], u["instance"], u["loads"]) for u in as_json["unsent_notifications"]] == [
        ("reg-o", "svc", 1)]
    first: list[dict] = []
    flush(wh, "svc", send=first.extend)
    assert [e["event"] for e in first] == ["outcomes.export.rejected"]
    assert "contract" in first[0]["payload"]["reason"]
    con = duckdb.connect(wh, read_only=True)
    queued_at = con.execute("SELECT queued_at FROM ops.outbox").fetchone()[0]
    con.close()
    assert first[0]["id"] == str(event_id("svc", r["load_id"], queued_at, "outcomes.export.rejected", None))
    assert "Notifications waiting" not in CliRunner().invoke(cli, ["status", "-w", wh]).output


def test_cli_ingests_queue_nothing(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "src")), warehouse=wh)["status"] == "loaded"
    assert _outbox(wh) == []


def test_a_load_killed_before_commit_queues_nothing(tmp_path, wh):
    """The outbox row commits with the load or not at all: killed after both the ledger row and
    the outbox row were written, before COMMIT."""
    src = write_export(tmp_path / "src", registry="reg-o", export_id="k1")
    code = ("import sys; from flows.ingest import ingest_in_process; "
            f"ingest_in_process({str(src)!r}, warehouse={wh!r}, notify='svc')")
    from prefect.settings import PREFECT_API_URL

    # the session's test server (a temporary one would outlive the killed process, holding its pipes)
    env = dict(os.environ, OUTCOMES_TEST_FAULT="after_ledger", PYTHONPATH=str(ROOT),
               PREFECT_API_URL=PREFECT_API_URL.value())
    p = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=300)
    assert p.returncode == 137, p.stderr.decode()[-2000:]
    assert _outbox(wh) == []
    r = ingest_export(str(src), warehouse=wh, notify="svc")
    assert r["status"] == "loaded" and _outbox(wh) == [(r["load_id"], "reg-o", "svc", False)]


def test_unsent_alerts_go_out_though_an_export_keeps_failing(tmp_path, monkeypatch):
    """A dead service's committed alerts (registry north) are sent by the next sweep even when
    another registry's export (aaa, first in the sweep) raises on every attempt, and when north's
    own pending export raises too; the sweep still fails, naming the registries that failed."""
    import flows.ingest
    import flows.outbox
    from flows.sweep import sweep_landing

    landing, wh = tmp_path / "landing", str(tmp_path / "wh.duckdb")
    config = tmp_path / "outcomes.toml"
    config.write_text(f'landing_zone = "{landing}"\nwarehouse = "{wh}"\n[service]\nname = "svc"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(config))
    r = ingest_export(str(write_export(tmp_path / "src", _alert_tables(), registry="north", export_id="n1")),
                      warehouse=wh, notify="svc")  # committed, never sent: the service died here
    write_export(landing / "aaa", registry="aaa", export_id="a1")
    write_export(landing / "north", registry="north", export_id="n2", exported_at="2025-02-28T23:00:00Z")

    def unreadable(path, **kw):
        raise PermissionError(13, "Permission denied")

    sent: list[dict] = []
    monkeypatch.setattr(flows.ingest, "ingest_in_process", unreadable)
    monkeypatch.setattr(flows.outbox, "post_events", sent.extend)
    monkeypatch.setattr(flows.outbox, "stored_ids", lambda events: {e["id"] for e in events} & {e["id"] for e in sent})
    with pytest.raises(RuntimeError, match=r"2 registries failed: aaa \(PermissionError\), north"):
        sweep_landing()
    assert {e["payload"]["load_id"] for e in sent} == {r["load_id"]}
    assert "outcomes.export.loaded" in [e["event"] for e in sent]
    assert "assessments.phq9_item9.positive" in [e["payload"].get("rule") for e in sent]
    assert _outbox(wh) == [(r["load_id"], "north", "svc", True)]


def test_event_ids_and_exported_at_do_not_depend_on_the_time_zone(tmp_path, wh):
    src = write_export(tmp_path / "src", registry="reg-o", export_id="tz")
    r = ingest_export(str(src), warehouse=wh, notify="svc")
    con = duckdb.connect(wh, read_only=True)
    try:
        from flows.outbox import events_for

        seen = []
        for zone in ("UTC", "Europe/Oslo", "America/Los_Angeles"):
            con.execute(f"SET TimeZone = '{zone}'")
            queued_at = con.execute("SELECT queued_at FROM ops.outbox").fetchone()[0]
            events = events_for(con, r["load_id"], queued_at, "svc")
            seen.append(([e["id"] for e in events], events[0]["payload"]["exported_at"]))
    finally:
        con.close()
    assert seen[0] == seen[1] == seen[2]
    assert seen[0][1] == r["exported_at"] == "2025-01-31T23:00:00+00:00"


def test_an_export_whose_manifest_cannot_be_read_is_its_landing_folders_registrys(tmp_path, monkeypatch):
    """landing/<registry>/... names the registry when the manifest cannot, for registries the
    configuration names: the rejection (and its notification) is that registry's, not "unknown"'s."""
    import flows.outbox
    from flows.sweep import sweep_landing
    from flows.watch import folder_registry

    landing, wh = tmp_path / "landing", str(tmp_path / "wh.duckdb")
    config = tmp_path / "outcomes.toml"
    config.write_text(f'landing_zone = "{landing}"\nwarehouse = "{wh}"\n[service]\nname = "svc"\nstale_seconds = 1\n'
                      f'[registries.north]\ntimezone = "UTC"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(config))
    for folder in (landing / "north" / "broken-1", landing / "elsewhere" / "broken-2"):
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_text("{not json")
    assert folder_registry(landing / "north" / "broken-1", landing, ("north",)) == "north"
    assert folder_registry(landing / "north" / "broken-1", landing, ()) is None
    assert folder_registry(landing / "north", landing, ("north",)) is None  # the folder itself
    assert folder_registry(tmp_path / "north" / "x", landing, ("north",)) is None  # outside the zone
    time.sleep(1.2)  # stale (stale_seconds = 1, from the files' change times): handed to ingest to be rejected
    sent: list[dict] = []
    monkeypatch.setattr(flows.outbox, "post_events", sent.extend)
    monkeypatch.setattr(flows.outbox, "stored_ids", lambda events: {e["id"] for e in events} & {e["id"] for e in sent})
    sweep_landing()
    con = duckdb.connect(wh, read_only=True)
    try:
        rows = con.execute("SELECT registry_id, status FROM ops.loads ORDER BY registry_id").fetchall()
    finally:
        con.close()
    assert rows == [("north", "rejected"), ("unknown", "rejected")]
    assert sorted((e["payload"]["registry"], e["event"]) for e in sent) == [
        ("north", "outcomes.export.rejected"), ("unknown", "outcomes.export.rejected")]


def test_a_load_is_marked_sent_only_once_its_events_are_stored(tmp_path, wh):
    """The Prefect API answers a post once the events are in its queue; a server that dies before
    its persister writes them loses them. Such a row stays unsent, and the next flush asks the
    store first: what it holds is marked without a second post, what it lacks is posted again
    with the same ids."""
    r = ingest_export(str(write_export(tmp_path / "src", _alert_tables(), registry="reg-s", export_id="s1")),
                      warehouse=wh, notify="svc")
    store: set[str] = set()
    posts: list[list[str]] = []

    def send(events):
        posts.append([e["id"] for e in events])

    def confirm(events):
        return {e["id"] for e in events} & store

    first = flush(wh, "svc", send=send, confirm=confirm, wait=0.3)  # accepted, then lost with the server
    assert first and posts == [[e["id"] for e in first]]
    assert _outbox(wh) == [(r["load_id"], "reg-s", "svc", False)]

    again = flush(wh, "svc", send=lambda ev: (send(ev), store.update(e["id"] for e in ev)), confirm=confirm,
                  wait=0.3)
    assert [e["id"] for e in again] == [e["id"] for e in first]  # the same events, the same ids
    assert _outbox(wh) == [(r["load_id"], "reg-s", "svc", True)]

    # a second load posted and stored, but the service died before marking it: not posted twice
    r2 = ingest_export(str(write_export(tmp_path / "src2", _alert_tables(), registry="reg-s", export_id="s2",
                                        exported_at="2025-02-28T23:00:00Z")), warehouse=wh, notify="svc")
    flush(wh, "svc", send=lambda ev: store.update(e["id"] for e in ev), confirm=lambda ev: set(), wait=0.1)
    assert _outbox(wh)[-1] == (r2["load_id"], "reg-s", "svc", False)
    assert flush(wh, "svc", send=lambda ev: pytest.fail("posted again though stored"), confirm=confirm) == []
    assert _outbox(wh)[-1] == (r2["load_id"], "reg-s", "svc", True)


def test_a_server_that_does_not_store_is_not_waited_for_at_every_flush(tmp_path, wh, monkeypatch):
    """Every flush ends an ingest: one that waits CONFIRM_WAIT for a server that never stores (its
    persister off) would add 15 s to each. After a wait in vain, flushes post without waiting for
    wait x 2^n s (n waits in vain in a row), then wait once more; a flush that sees its events stored
    ends the hold. What was posted meanwhile stays unsent until a flush finds it stored."""
    import flows.outbox as outbox

    clock = [1000.0]
    monkeypatch.setattr(outbox.time, "monotonic", lambda: clock[0])
    waits: list[float] = []
    real_wait = outbox.wait_stored

    def wait_stored(events, confirm, wait, poll=0.5):
        waits.append(wait)
        return real_wait(events, confirm, 0.0)  # one look, whatever the wait: the test does not sleep

    monkeypatch.setattr(outbox, "wait_stored", wait_stored)
    store: set[str] = set()
    confirm = lambda ev: {e["id"] for e in ev} & store  # noqa: E731

    def load(n):
        return ingest_export(str(write_export(tmp_path / f"src{n}", _alert_tables(), registry="reg-h", export_id=f"h{n}",
                                              exported_at=f"2025-02-{10 + n}T23:00:00Z")), warehouse=wh, notify="svc")

    load(1)
    flush(wh, "svc", send=lambda ev: None, confirm=confirm, wait=15)      # lost: waited 15 s in vain
    load(2)
    flush(wh, "svc", send=lambda ev: None, confirm=confirm, wait=15)      # within the hold: no wait
    assert waits == [15, 0.0]
    clock[0] += 31                                                         # the hold (15 x 2 s) is over
    flush(wh, "svc", send=lambda ev: None, confirm=confirm, wait=15)      # waits again, in vain: 60 s
    clock[0] += 31
    flush(wh, "svc", send=lambda ev: None, confirm=confirm, wait=15)
    assert waits == [15, 0.0, 15, 0.0]
    assert all(not sent for *_, sent in _outbox(wh))
    clock[0] += 30                                                         # 61 s: the server stores again
    flush(wh, "svc", send=lambda ev: store.update(e["id"] for e in ev), confirm=confirm, wait=15)
    assert waits[-1] == 15 and all(sent for *_, sent in _outbox(wh))
    assert outbox._hold.get((str(wh), "svc")) is None                      # stored: the hold is over
