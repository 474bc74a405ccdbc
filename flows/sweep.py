"""Ingest what landed: the event-triggered flow and the sweep, both through one per-registry path.

At most one ingest per registry at a time: a Prefect global concurrency limit
`outcomes-ingest-<registry>` (limit 1) taken with strict=True, so a missing limit is an error, not a
silent no-op (the flow creates it when absent). Inside `outcomes serve` every ingest runs in its one
warm worker thread (flows/worker.py), which takes a per-registry lock in its own process instead.
Order: Prefect does not start queued runs in arrival order, so inside the slot the flow re-reads the
landing zone and ingests every pending export of the registry exported at or before the one that
triggered it, in exported_at order. Exactly-once lives in
DuckDB (the ledger row commits with the data); the pending re-check under the slot keeps duplicate
events and sweeps from even producing `duplicate` rows.
"""
from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from transforms.redaction import redact_text

log = logging.getLogger(__name__)


def lock_name(registry_id: str) -> str:
    return f"outcomes-ingest-{registry_id or 'unknown'}"


_ENSURED: set[str] = set()  # limits known to exist: the warm ingest worker asks once, not per export


def ensure_limit(name: str, limit: int = 1) -> None:
    """Create the global concurrency limit when it does not exist (idempotent, race-tolerant)."""
    if name in _ENSURED:
        return
    _ensure_limit(name, limit)
    _ENSURED.add(name)


def _ensure_limit(name: str, limit: int) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        try:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=limit))
        except ObjectAlreadyExists:
            pass
        except Exception as e:  # 409 from a concurrent creator
            if "409" not in str(e) and "already exists" not in str(e).lower():
                raise


@contextmanager
def registry_slot(registry_id: str, lease_seconds: float = 60.0):
    """The registry's slot across processes: a Prefect global concurrency limit (limit 1)."""
    from prefect.concurrency.sync import concurrency

    name = lock_name(registry_id)
    ensure_limit(name)
    with concurrency(name, occupy=1, strict=True, lease_duration=max(60.0, lease_seconds)):
        yield


def pending_exports(root: str, warehouse: str, registry_id: str | None, up_to: str | None,
                    stale_seconds: float, known: tuple[str, ...] = ()) -> list[dict]:
    """known: the configured registries (flows.watch.folder_registry)."""
    from flows.watch import pending

    return [{"path": str(c.path), "registry_id": c.registry_id or "unknown", "export_id": c.export_id,
             "exported_at": c.exported_at, "state": c.state}
            for c in pending(Path(root), Path(warehouse), registry_id, stale_seconds, up_to, known)]


find_pending = task(name="find-pending", cache_policy=NO_CACHE)(pending_exports)


@task(name="send-notifications", cache_policy=NO_CACHE)
def send_notifications(warehouse: str, instance: str, registry_id: str) -> list[str]:
    """The registry's queued outcome events and safety alerts (flows/outbox.py), this load's and
    any a dead service left unsent."""
    from flows.outbox import flush

    return [e["event"] for e in flush(warehouse, instance, registry_id)]


_LOCAL_SLOTS: dict[str, threading.Lock] = {}
_LOCAL_SLOTS_LOCK = threading.Lock()


@contextmanager
def local_slot(registry_id: str):
    """The registry's slot inside the warm ingest worker, which runs every ingest of its service
    (flows/worker.py): a lock in this process is enough there. Why not the Prefect limit: taking it
    from the worker's thread sometimes stalled ~2 s inside Prefect's client (measured with
    bench/latency.py), on exports that take ~1.5 s to ingest."""
    with _LOCAL_SLOTS_LOCK:
        lock = _LOCAL_SLOTS.setdefault(registry_id, threading.Lock())
    with lock:
        yield


def ingest_registry(registry_id: str, up_to: str | None = None, in_worker: bool = False) -> list[dict]:
    """Inside a flow: take the registry's slot, then ingest its pending exports (those exported at or
    before up_to) in exported_at order, emitting the outcome events of each."""
    from flows.ingest import ingest_in_process
    from outcomes.config import load_config, warehouse_for
    from warehouse.load import _fault

    logger = get_run_logger()
    cfg = load_config()
    settings = cfg.registry(registry_id)
    root, wh = str(Path(cfg.landing_zone).resolve()), str(warehouse_for(cfg).resolve())
    results = []
    asked = time.monotonic()
    slot = local_slot(registry_id) if in_worker else registry_slot(registry_id, cfg.service.lock_lease_seconds)
    with slot:
        waited = time.monotonic() - asked
        # a plain call, not the task: inside the slot every API round trip delays the load
        todo = pending_exports(root, wh, registry_id, up_to, cfg.service.stale_seconds, tuple(cfg.registries))
        for lg in (logger, log):  # the run's log in the UI, and the service's own log
            lg.info("registry %s: slot after %.2f s; %d pending export(s) up to %s (found in %.2f s)", registry_id,
                    waited, len(todo), up_to or "now", time.monotonic() - asked - waited)
        # The registry's unsent notifications go out after each ingest: its own, and a dead
        # service's leftovers (after, so that none of this is in the ingest's path). With nothing
        # pending, or when an ingest raised, they go out in `finally`: a committed alert must not
        # wait behind an export that keeps failing.
        flushed = False
        try:
            for item in todo:
                flushed = False
                options = {"registry_id": registry_id} if registry_id != "unknown" else {}
                r = ingest_in_process(item["path"], warehouse=wh, reject_threshold=settings.reject_threshold,
                                      timezone_name=settings.timezone, options=options, notify=cfg.service.name)
                _fault("after_commit")  # tests: the service dies between the commit and the send
                send_notifications(wh, cfg.service.name, registry_id)
                flushed = True
                results.append({k: r.get(k) for k in ("registry_id", "export_id", "status", "load_id", "reason")})
        finally:
            if not flushed:
                send_notifications(wh, cfg.service.name, registry_id)
    return results


def run_ingest(registry_id: str, up_to: str | None = None) -> list[dict]:
    """In the warm worker of `outcomes serve` when there is one (flows/worker.py), else here."""
    from flows.worker import submit_and_wait, worker_enabled

    if worker_enabled():
        return submit_and_wait(registry_id, up_to)
    return ingest_registry(registry_id, up_to)


@flow(name="ingest-landed-export")
def ingest_landed(location: str, registry_id: str | None = None) -> list[dict]:
    """Triggered by `registry.export.landed`: ingest the export at `location`, after every earlier
    pending export of its registry."""
    from flows.watch import BROKEN, INCOMPLETE, check_export, folder_registry
    from outcomes.config import load_config

    logger = get_run_logger()
    cfg = load_config()
    root = Path(cfg.landing_zone).resolve()
    where = Path(location).resolve()
    shown = redact_text(str(location))  # a folder's name may be a person's (as ops.loads.source)
    if root not in where.parents:  # what runs next ingests the landing zone's pending exports only
        raise RuntimeError(f"{shown} is not in the landing zone {root}: nothing ingested (copy the export "
                           f"there under a hidden name, then rename it)")
    c = check_export(Path(location))
    if c.state == INCOMPLETE and c.manifest_sha256 is None and not Path(location).exists():
        logger.warning("%s is gone; nothing to ingest", shown)
        return []
    registry = c.registry_id or folder_registry(where, root, tuple(cfg.registries)) or registry_id or "unknown"
    if c.state == BROKEN or c.registry_id is None:
        logger.warning("%s: %s", shown, c.reason)
    return run_ingest(registry, up_to=c.exported_at)


@flow(name="sweep-landing-zone")
def sweep_landing() -> list[dict]:
    """Ingest every export in the landing zone that ops.loads does not record yet, registry by
    registry, in exported_at order: nothing is lost when an event was missed or the service was down."""
    from outcomes.config import load_config, warehouse_for

    from flows.outbox import registries_with_unsent

    logger = get_run_logger()
    cfg = load_config()
    root, wh = str(Path(cfg.landing_zone).resolve()), str(warehouse_for(cfg).resolve())
    Path(root).mkdir(parents=True, exist_ok=True)
    todo = find_pending(root, wh, None, None, cfg.service.stale_seconds, tuple(cfg.registries))
    # and the registries whose loads' notifications a dead service left unsent (flows/outbox.py)
    unsent = registries_with_unsent(wh, cfg.service.name)
    registries = list(dict.fromkeys([item["registry_id"] for item in todo] + unsent))
    logger.info("sweep: %d pending export(s) in %d registr%s; %d registr%s with unsent notifications",
                len(todo), len(registries), "y" if len(registries) == 1 else "ies", len(unsent),
                "y" if len(unsent) == 1 else "ies")
    results, failed = [], []
    for reg in registries:
        try:
            results.extend(run_ingest(reg))
        except Exception as e:  # one registry's failing export must not hold back the others' (or
            failed.append((reg, e))  # their unsent alerts); the run still fails, naming them all
            logger.error("sweep: registry %s failed (%s); going on with the others", reg, type(e).__name__)
    if failed:
        raise RuntimeError(f"sweep: {len(failed)} registr{'y' if len(failed) == 1 else 'ies'} failed: "
                           + ", ".join(f"{reg} ({type(e).__name__})" for reg, e in failed)) from failed[0][1]
    return results
