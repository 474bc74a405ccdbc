"""End-to-end: two ingests of one registry never interleave (found by a review: an incremental
validated against a patient that a full export committed in between had withdrawn, and its
session loaded as an orphan). The second waits for the first, across processes and threads."""
from __future__ import annotations

import logging
import threading

import pytest

from exports import write_export
from flows.ingest import ingest_export
from warehouse.locks import lock_path, registry_lock
from whquery import query

pytestmark = pytest.mark.e2e


def test_an_ingest_waits_while_another_holds_the_registry(tmp_path, wh, caplog):
    folder = write_export(tmp_path / "x")
    out: dict = {}
    caplog.set_level(logging.INFO)
    with registry_lock(wh, "test-registry"):
        t = threading.Thread(target=lambda: out.update(ingest_export(str(folder), warehouse=wh)))
        t.start()
        deadline = threading.Event()
        for _ in range(600):  # until the ingest says it waits (up to 60 s on a busy machine)
            if any("waiting for another ingest of registry test-registry" in r.getMessage() for r in caplog.records):
                break
            deadline.wait(0.1)
        else:
            pytest.fail("the ingest never waited for the lock")
        assert t.is_alive() and query(wh, "SELECT count(*) FROM ops.loads") == [(0,)]
    t.join(120)
    assert out["status"] == "loaded" and query(wh, "SELECT count(*) FROM ops.loads") == [(1,)]


def test_lock_file_names_never_come_from_odd_registry_ids(tmp_path):
    assert lock_path(tmp_path / "w.duckdb", "reg-a").name == "reg-a.lock"
    odd = lock_path(tmp_path / "w.duckdb", "../x y")
    assert odd.parent == tmp_path / "w.duckdb.locks" and len(odd.stem) == 64
