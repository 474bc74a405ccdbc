"""The warm ingest worker of `outcomes serve`: ingest runs in a process that is already running.

Why: Prefect's runner starts every flow run in a fresh Python process. For an ingest that process
imported Prefect and Great Expectations and built GX's context and metric registry before the first
row was validated: ~5 s of a small export's ~10 s from landing to queryable. So `outcomes serve`
also runs a Prefect task worker (`prefect.task_worker`) serving `ingest_pending`, warmed up at start
by validating a tiny synthetic export; the triggered flow run and the sweep stay what they were
(deployments, visible in the UI, one per event) but hand the ingest to the worker with
`ingest_pending.delay(...)` and wait for its result. Without the worker (OUTCOMES_INGEST_WORKER
unset: tests, a flow run outside `outcomes serve`) they ingest in their own process as before.
"""
from __future__ import annotations

import logging
import os
import shutil
import time
import uuid
from pathlib import Path

from prefect import task

from outcomes import scratch

log = logging.getLogger(__name__)

WORKER_ENV = "OUTCOMES_INGEST_WORKER"  # set by `outcomes serve` for itself and its flow runs
WARMUP_PREFIX = "outcomes-warmup-"


@task(name="ingest-pending", persist_result=True, log_prints=False)
def ingest_pending(registry_id: str, up_to: str | None, request_id: str) -> list[dict]:
    """Ingest a registry's pending exports (see flows.sweep.ingest_registry) in the warm worker.

    request_id makes every submission distinct: a task worker gives its tasks Prefect's default
    cache policy (inputs + run id), and an ingest must never be answered from a cache.

    Persistence is switched off for what runs inside: Prefect's should_persist_result() asks the
    task run context first, so each ingest-export subflow would inherit this task's
    persist_result=True and leave its result in Prefect's storage, one file per export that nothing
    deletes. This task's own result is still persisted (the engine decides after the body returns)."""
    from contextlib import nullcontext

    from prefect.context import TaskRunContext

    from flows.sweep import ingest_registry

    ctx = TaskRunContext.get()
    with ctx.model_copy(update={"persist_result": False}) if ctx is not None else nullcontext():
        return ingest_registry(registry_id, up_to, in_worker=True)


_FOR_INSTANCE: dict = {}


def for_instance(instance: str):
    """`ingest_pending` as instance `instance` submits and serves it. A task worker is sent the runs
    of its tasks' keys, and a task's key comes from its function's name and code: every `outcomes
    serve` on a Prefect server would share one key, and an ingest submitted by one instance could
    run in another's worker, against that one's landing zone and warehouse (and find nothing). The
    function's name carries the instance (instance names have no "_", so keys cannot collide)."""
    t = _FOR_INSTANCE.get(instance)
    if t is None:
        def run(registry_id: str, up_to: str | None, request_id: str) -> list[dict]:
            return ingest_pending.fn(registry_id, up_to, request_id)

        run.__name__ = run.__qualname__ = f"ingest_pending_{instance.replace('-', '_')}"
        t = task(name="ingest-pending", persist_result=True, log_prints=False)(run)
        _FOR_INSTANCE[instance] = t
    return t


def worker_enabled() -> bool:
    return os.environ.get(WORKER_ENV) == "1"


def submit_and_wait(registry_id: str, up_to: str | None, poll: float = 5.0) -> list[dict]:
    """Hand the ingest to the worker and wait for it. The worker lives in `outcomes serve`, this
    flow run's parent: if that process dies (kill -9) the run fails instead of waiting forever, and
    the sweep of the restarted service loads what is left."""
    from outcomes.config import load_config

    future = for_instance(load_config().service.name).delay(registry_id, up_to, uuid.uuid4().hex)
    return wait_and_forget(future, poll, what=f"registry {registry_id}")


def wait_and_forget(future, poll: float = 5.0, what: str = "the task") -> object:
    """Wait for a `.delay()`ed task run while this process's parent (the worker's process) lives,
    return its result (or raise its exception), then delete the files Prefect kept for it."""
    from flows.parent import service_gone_check

    gone = service_gone_check()
    while True:
        future.wait(timeout=poll)
        if future.state.is_final():
            try:
                return future.result()
            finally:
                forget_files(future)
        if gone():
            raise RuntimeError(f"the ingest worker (outcomes serve) is gone; the next sweep ingests {what}")


def _local_file(storage_key: str, block) -> Path | None:
    """The local file of a storage key, as Prefect's ResultStore resolves it; None when the
    storage is not a local folder (a remote block has no delete in Prefect's API)."""
    from prefect.filesystems import LocalFileSystem

    if block is None:
        return Path(storage_key) if Path(storage_key).is_absolute() else None
    if isinstance(block, LocalFileSystem):
        return block._resolve_path(storage_key)
    return None


def forget_files(future) -> list[Path]:
    """Delete what Prefect wrote to disk for one `.delay()`ed task run, once its result was read.

    Why: nothing in Prefect ever deletes them, so a service running for years would keep one file
    per ingest of each kind: the result record (<result storage>/<cache key>, by default
    $PREFECT_HOME/storage/<32 hex>: the returned counts and export ids, or the exception) and the
    submission's parameters (<task scheduling storage>/parameters/<uuid>: the arguments plus a
    pickled copy of the submitter's Prefect settings, API URL and key included). Their names are in
    the task run's states: the final state's result metadata and the Scheduled state's
    task_parameters_id. A failure here is logged and never fails the ingest; files in remote
    storage blocks are left where they are. Returns the files removed."""
    from prefect import get_client
    from prefect._internal.result_records import ResultRecordMetadata
    from prefect.results import resolve_result_storage
    from prefect.settings import get_current_settings

    removed = []
    try:
        with get_client(sync_client=True) as client:
            states = client.read_task_run_states(future.task_run_id)
        targets = []
        meta = next((m for m in [future.state.data, *(st.data for st in reversed(states))]
                     if isinstance(m, ResultRecordMetadata) and m.storage_key), None)
        if meta is not None:
            block = resolve_result_storage(meta.storage_block_id, _sync=True) if meta.storage_block_id else None
            targets.append(_local_file(meta.storage_key, block))
        params_id = next((st.state_details.task_parameters_id for st in states
                          if st.state_details.task_parameters_id), None)
        if params_id is not None:
            settings = get_current_settings()
            name = settings.tasks.scheduling.default_storage_block
            if name is None:  # as prefect.results.get_or_create_default_task_scheduling_storage
                block = resolve_result_storage(Path(settings.results.local_storage_path), _sync=True)
            else:
                block = resolve_result_storage(name, _sync=True)
            targets.append(_local_file(f"parameters/{params_id}", block))
        for path in targets:
            if path is not None and path.is_file():
                path.unlink()
                removed.append(path)
        if None in targets:
            log.debug("task run %s: some of its files are in remote storage, left there", future.task_run_id)
    except Exception as e:  # noqa: BLE001 - housekeeping must never fail an ingest that succeeded
        log.warning("could not delete the stored result of task run %s (%s)", future.task_run_id, e)
    return removed


def warm_up() -> float:
    """Validate a tiny synthetic export with the real code path (read, pseudonymise, stage, Great
    Expectations), so the first real export does not pay GX's first-use cost. Loads nothing."""
    from datetime import date

    from expectations.validate import validate_export
    from synth import generate_registry
    from transforms.adapters import kor
    from transforms.bundle import open_bundle
    from transforms.pseudonymise import build_key_map
    from transforms.workspace import close_workspace, open_workspace
    from warehouse.connect import attach, detach, ensure_warehouse

    t = time.perf_counter()
    tmp = scratch.make(WARMUP_PREFIX)  # and the one of a service killed while it warmed up goes
    try:
        folder = generate_registry(tmp / "exports", "warmup", patients=8, seed=1, start=date(2025, 1, 1),
                                   months=1)[0]
        bundle = open_bundle(folder)
        ws = open_workspace()
        try:
            reads = kor.read(ws, bundle)
            build_key_map(ws, b"warm-up key, never used for real data", bundle.registry_id, list(reads))
            ws.execute("SET VARIABLE registry_id = ?", [bundle.registry_id])
            ws.execute("SET VARIABLE exported_at = ?", [bundle.exported_at.isoformat()])
            attach(ws, ensure_warehouse(tmp / "warmup.duckdb"), read_only=True)
            try:
                validate_export(ws)
            finally:
                detach(ws)
        finally:
            close_workspace(ws)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return time.perf_counter() - t


async def serve_worker(instance: str) -> None:
    """Warm up, then serve `ingest_pending` until cancelled. Runs in the `outcomes serve` process.

    One ingest at a time: DuckDB lets one process attach a database file once, and every ingest
    attaches the warehouse; validation holds the GIL anyway. Within it each ingest still takes its
    registry's lock (flows.sweep.local_slot) and ingests pending exports in exported_at order."""
    import anyio
    from prefect.task_worker import TaskWorker

    try:
        seconds = await anyio.to_thread.run_sync(warm_up)
        log.info("ingest worker warmed up in %.1f s", seconds)
    except Exception as e:  # a failed warm-up only costs the first export its cold start
        log.warning("ingest worker warm-up failed (%s); serving anyway", e)
    worker = TaskWorker(for_instance(instance), limit=1)
    await worker.astart()
