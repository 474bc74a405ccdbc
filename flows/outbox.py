"""The notification outbox: every outcome event and safety alert of a service's loads is sent at
least once, even when the service dies between the load's commit and the send.

A load run by `outcomes serve` queues itself in ops.outbox in its own transaction
(warehouse/load.py). `flush` reads what is unsent, builds the events from ops.loads and
ops.alerts (counts only, never rows), posts them to the Prefect API, and marks them sent only once
the API's event store holds every one of them: the API answers a post when the events are in its
in-memory queue, and a Prefect server that dies before its persister writes them (every 5 s by
default) would lose them. A service that died in between, or a server that lost them, leaves
them unsent for the next ingest or sweep, which first asks the store which it holds and posts the
rest again. A repeated post carries the same event ids (derived from the outbox row): Prefect's
event store keeps an id once, and its automations skip ids seen in the last 30 minutes.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable

from flows.events import build_outcome_events

log = logging.getLogger(__name__)

_ID_NAMESPACE = uuid.UUID("5f0c7c52-8d0e-4b71-9a51-4c8a0e3b7d21")  # this project's; any fixed UUID


def event_id(instance: str, load_id: int, queued_at: datetime, event: str, rule: str | None) -> uuid.UUID:
    """The same id each time the same outbox row's event is sent. queued_at is part of it: a
    warehouse created anew numbers its loads from 1 again, and its events must not be taken for
    the old ones."""
    when = queued_at.astimezone(timezone.utc).isoformat()  # DuckDB returns it in the process's time zone
    return uuid.uuid5(_ID_NAMESPACE, f"{instance}|{load_id}|{when}|{event}|{rule or ''}")


def unsent(con, instance: str, registry_id: str | None = None) -> list[tuple[int, str, datetime]]:
    """(load_id, registry_id, queued_at) of the instance's unsent loads, oldest first."""
    return [tuple(r) for r in con.execute(
        "SELECT load_id, registry_id, queued_at FROM ops.outbox WHERE instance = $1 AND sent_at IS NULL "
        "AND ($2::VARCHAR IS NULL OR registry_id = $2) ORDER BY load_id", [instance, registry_id]).fetchall()]


def load_result(con, load_id: int) -> dict:
    """An ingest result as flows.events.build_outcome_events reads it, from the load's ledger row."""
    row = con.execute("SELECT registry_id, export_id, status, reason, exported_at, row_counts FROM ops.loads "
                      "WHERE load_id = ?", [load_id]).fetchone()
    if row is None:
        return {}
    registry, export, status, reason, exported_at, counts = row
    return {"registry_id": registry, "export_id": export, "status": status, "reason": reason, "load_id": load_id,
            # in UTC, as the ingest result carries it, whatever the process's time zone
            "exported_at": exported_at.astimezone(timezone.utc).isoformat() if exported_at else None,
            "tables": json.loads(counts) if counts else {}}


def events_for(con, load_id: int, queued_at: datetime, instance: str) -> list[dict]:
    result = load_result(con, load_id)
    if not result:
        return []
    alerts = []
    if result["status"] == "loaded":
        alerts = [tuple(r) for r in con.execute(
            "SELECT rule, table_name, count(*) FROM ops.alerts WHERE load_id = ? GROUP BY ALL "
            "ORDER BY rule, table_name", [load_id]).fetchall()]
    events = build_outcome_events(result, alerts, instance)
    for e in events:
        e["id"] = str(event_id(instance, load_id, queued_at, e["event"], e["payload"].get("rule")))
        e["occurred"] = queued_at.astimezone(timezone.utc).isoformat()
    return events


def post_events(events: list[dict], timeout: float = 10.0) -> None:
    """Send events through the Prefect API's HTTP endpoint and return once it has accepted them.
    Not prefect.events.emit_event: that queues them for a background websocket, and a process
    killed right after would lose them although they had been marked sent. One try with a short
    timeout, not the client's retries (up to 5, 60 s each): this runs in the ingest worker's one
    thread, and the outbox retries at the next ingest or sweep anyway."""
    if not events:
        return
    from prefect.client.orchestration import get_client
    from prefect.events import Event
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    body = [Event(event=e["event"], resource=e["resource"], payload=e.get("payload") or {}, id=uuid.UUID(e["id"]),
                  occurred=datetime.fromisoformat(e["occurred"])).model_dump(mode="json") for e in events]
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}), get_client(sync_client=True) as client:
        client.request("POST", "/events", json=body, timeout=timeout).raise_for_status()


_PAGE = 50  # the API's largest page of events


def stored_ids(events: list[dict], timeout: float = 10.0) -> set[str]:
    """The ids among these events that the Prefect API's event store holds (POST /events/filter by
    id, over the span of their `occurred` times, which may be days old for a row that waited)."""
    if not events:
        return set()
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_CLIENT_MAX_RETRIES, temporary_settings

    found: set[str] = set()
    occurred = sorted(datetime.fromisoformat(e["occurred"]) for e in events)
    since = (occurred[0] - timedelta(minutes=1)).isoformat()
    until = (max(occurred[-1], datetime.now(timezone.utc)) + timedelta(minutes=1)).isoformat()
    ids = [e["id"] for e in events]
    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0}), get_client(sync_client=True) as client:
        for i in range(0, len(ids), _PAGE):
            body = {"filter": {"id": {"id": ids[i:i + _PAGE]}, "occurred": {"since": since, "until": until}},
                    "limit": _PAGE}
            r = client.request("POST", "/events/filter", json=body, timeout=timeout)
            r.raise_for_status()
            found.update(str(e["id"]) for e in r.json()["events"])
    return found



def wait_stored(events: list[dict], confirm: Callable[[list[dict]], set[str]], wait: float,
                poll: float = 0.5) -> set[str]:
    """Ids of these events stored, asking until all are or `wait` seconds have passed (a Prefect
    server writes what it accepted every PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL,
    5 s by default)."""
    deadline = time.monotonic() + wait
    want = {e["id"] for e in events}
    got: set[str] = set()
    while True:
        got |= confirm([e for e in events if e["id"] not in got])
        if want <= got or time.monotonic() >= deadline:
            return got & want
        time.sleep(poll)


def mark_sent(warehouse: str | Path, instance: str, load_ids: list[int]) -> None:
    """The warehouse attached as a load attaches it: a load or a reader in another process holds
    the file's lock for a moment, and attach() waits that out (retry_locked)."""
    import duckdb

    from warehouse.connect import attach, detach

    con = duckdb.connect(":memory:")
    try:
        attach(con, warehouse)
        try:
            con.execute("UPDATE wh.ops.outbox SET sent_at = ? WHERE instance = ? AND sent_at IS NULL "
                        "AND list_contains(?, load_id)", [datetime.now(timezone.utc), instance, load_ids])
        finally:
            detach(con)
    finally:
        con.close()


@contextmanager
def _reading(warehouse: str | Path):
    """A read-only connection to the warehouse, or None where there is no outbox to read: no file
    yet, or one its first ingest has not migrated yet (the sweep at a service's start)."""
    from warehouse.connect import open_readonly
    from warehouse.migrate import has_table

    if not Path(warehouse).exists():
        yield None
        return
    con = open_readonly(warehouse)
    try:
        yield con if has_table(con, "ops", "outbox") else None
    finally:
        con.close()


CONFIRM_WAIT = 15.0  # three of the Prefect server's default persister flushes
# A server that does not store what it accepts (its event persister off or failing, a retention
# shorter than the backlog) would make every flush wait CONFIRM_WAIT, and flushes run at the end of
# every ingest. After a wait that did not see its events stored, flushes post without waiting for
# CONFIRM_WAIT x 2^n seconds (n such waits in a row, at most HOLD_MAX), then wait once again; what
# was posted meanwhile stays unsent and is marked by a later flush that finds it stored.
HOLD_MAX = 1800.0
_hold: dict[tuple[str, str], tuple[int, float]] = {}  # (warehouse, instance) -> (waits in vain, until)


def flush(warehouse: str | Path, instance: str, registry_id: str | None = None,
          send: Callable[[list[dict]], None] | None = None,
          confirm: Callable[[list[dict]], set[str]] | None = None, wait: float = CONFIRM_WAIT) -> list[dict]:
    """Send the instance's unsent loads (of one registry, or all), oldest first; returns the events
    posted. A load is marked sent once `confirm` says every event of it is stored: ones already
    stored (posted before a crash) are marked without a second post; the rest are posted, then
    waited for up to `wait` seconds (not while a server that did not store has its hold: _hold). Never raises (the loads themselves succeeded; what fails here
    waits in ops.outbox for the next flush, logged): a warehouse busy beyond the lock timeout, a
    send that fails (it also stops the flush, keeping the order), events the store does not hold
    in time, a mark that fails (those are checked, and posted again if missing, with the same ids).

    `send` and `confirm` default to the Prefect API; a caller's own `send` without a `confirm` is
    taken as storing what it was given."""
    if send is None:
        send, confirm = post_events, confirm or stored_ids
    ask_first = confirm or (lambda events: set())  # a caller's own send: nothing is stored before it posts
    confirm = confirm or (lambda events: {e["id"] for e in events})
    try:
        with _reading(warehouse) as con:
            batches = [] if con is None else [(load_id, events_for(con, load_id, queued_at, instance))
                                              for load_id, _, queued_at in unsent(con, instance, registry_id)]
    except Exception as e:
        log.warning("unsent notifications not read (%s); they wait in ops.outbox for the next sweep",
                    type(e).__name__)
        return []
    try:
        stored = ask_first([e for _, events in batches for e in events])
    except Exception as e:  # the API is down: the sends below fail the same way and say so
        log.debug("event store not asked (%s)", type(e).__name__)
        stored = set()
    done = [load_id for load_id, events in batches if all(e["id"] in stored for e in events)]
    posted: list[tuple[int, list[dict]]] = []
    out: list[dict] = []
    for load_id, events in batches:
        if load_id in done:
            continue
        try:
            send(events)
        except Exception as e:  # the API is down or refused: the next ingest or sweep sends it
            log.warning("notifications of load %s not sent (%s); queued in ops.outbox for the next sweep",
                        load_id, type(e).__name__)
            break
        posted.append((load_id, events))
        out.extend(events)
    if posted:
        hold = (str(warehouse), instance)
        misses, until = _hold.get(hold, (0, 0.0))
        waiting = wait if time.monotonic() >= until else 0.0
        try:
            stored = wait_stored([e for _, events in posted for e in events], confirm, waiting)
        except Exception as e:
            log.warning("notifications of loads %s posted but their storage not confirmed (%s); checked again "
                        "at the next sweep", [i for i, _ in posted], type(e).__name__)
            stored = set()
        kept = [load_id for load_id, events in posted if all(e["id"] in stored for e in events)]
        if len(kept) == len(posted):
            _hold.pop(hold, None)
        elif waiting:
            misses += 1
            pause = min(wait * 2 ** misses, HOLD_MAX)
            _hold[hold] = (misses, time.monotonic() + pause)
            log.warning("notifications of loads %s accepted but not stored by the Prefect API within %.0f s; "
                        "checked again, and posted again if missing, at the next sweep; flushes post without "
                        "waiting for the next %.0f s", [i for i, _ in posted if i not in kept], wait, pause)
        else:
            log.info("notifications of loads %s posted; their storage is checked at a later flush",
                     [i for i, _ in posted if i not in kept])
        done += kept
    if done:
        try:
            mark_sent(warehouse, instance, done)
        except Exception as e:
            log.warning("loads %s sent but not marked sent (%s); they will be sent again with the same event ids",
                        done, type(e).__name__)
    return out


def registries_with_unsent(warehouse: str | Path, instance: str) -> list[str]:
    """For the sweep; [] (logged) when the warehouse cannot be read now: the next sweep asks again."""
    try:
        with _reading(warehouse) as con:
            return [] if con is None else [r[0] for r in con.execute(
                "SELECT DISTINCT registry_id FROM ops.outbox WHERE instance = ? AND sent_at IS NULL ORDER BY 1",
                [instance]).fetchall()]
    except Exception as e:
        log.warning("registries with unsent notifications not read (%s)", type(e).__name__)
        return []
