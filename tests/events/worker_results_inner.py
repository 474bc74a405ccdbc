"""The warm worker's submissions leave no files behind: Prefect persists each `.delay()`ed task run's
result (and its parameters) to local storage and never deletes them; flows.worker deletes both once
the submitter has read the result. A real Prefect server and task worker, a trivial task.

Run by test_worker_results.py in a pytest process of its own: Prefect's settings context and its
task-run waiter are process-wide, and in a process that ran tests under prefect_test_harness
(another server) the task worker thread ran the task against that server, so the submitted run
never finished (seen in CI, with e2e tests earlier in the same xdist worker)."""
from __future__ import annotations

import asyncio
import contextvars
import threading
import uuid
from pathlib import Path

import pytest
from prefect import task


@task(name="hk-results-probe", persist_result=True)
def probe(n: int, request_id: str) -> list[dict]:
    if n < 0:
        raise ValueError("negative probe")
    return [{"export_id": f"e{n}", "rows": n}]


@pytest.fixture(scope="module")
def worker(prefect_server):
    """One task worker for both tests: a second worker started after the first one stopped took
    ~25 s to pick up its first submission."""
    from prefect.task_worker import TaskWorker

    started = threading.Event()
    box = {}

    def run():
        async def main():
            box["loop"], box["task"] = asyncio.get_running_loop(), asyncio.current_task()
            started.set()
            try:
                await TaskWorker(probe, limit=1).astart(timeout=120)
            except asyncio.CancelledError:
                pass

        asyncio.run(main())

    from prefect.settings import PREFECT_API_URL, temporary_settings

    # in the events server's settings (set per test by the autouse fixture, after module fixtures
    # start), which a new thread would not inherit
    with temporary_settings({PREFECT_API_URL: prefect_server}):
        t = threading.Thread(target=contextvars.copy_context().run, args=(run,), daemon=True)
        t.start()
    assert started.wait(30)
    yield
    box["loop"].call_soon_threadsafe(box["task"].cancel)
    t.join(30)


def stored_files() -> set[Path]:
    from prefect.settings import get_current_settings

    root = Path(get_current_settings().results.local_storage_path)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def submit(n: int):
    from prefect._internal.result_records import ResultRecordMetadata

    future = probe.delay(n, uuid.uuid4().hex)
    future.wait(timeout=60)
    assert future.state.is_final()
    meta = future.state.data
    assert isinstance(meta, ResultRecordMetadata)  # where Prefect's result store wrote the record
    return future, Path(meta.storage_key)


def test_a_read_result_leaves_no_result_or_parameters_file(worker):
    from flows.worker import wait_and_forget

    before = stored_files()
    future, result_file = submit(3)
    new = stored_files() - before
    # what Prefect leaves per submission: the result record and the submitted parameters
    assert result_file in new and result_file.parent.name == "storage"
    assert [p.parent.name for p in new - {result_file}] == ["parameters"]
    assert wait_and_forget(future, poll=1) == [{"export_id": "e3", "rows": 3}]
    assert not result_file.exists()
    assert stored_files() == before


def test_a_failed_submission_leaves_no_files_either(worker):
    from flows.worker import wait_and_forget

    before = stored_files()
    future, exc_file = submit(-1)
    assert exc_file.exists()  # Prefect persists the exception as the result
    with pytest.raises(ValueError, match="negative probe"):
        wait_and_forget(future, poll=1)
    assert stored_files() == before
