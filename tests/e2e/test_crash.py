"""kill -9 during a load leaves the warehouse as it was; the retry loads the export exactly once."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from whquery import query
from exports import write_export

pytestmark = pytest.mark.e2e


def _env(**extra) -> dict:
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ, **extra)
    api = PREFECT_API_URL.value()
    if api:  # use the session's test server instead of starting a temporary one per process
        env["PREFECT_API_URL"] = api
    return env


def _ingest(path, wh, **env):
    return subprocess.Popen([sys.executable, "-m", "outcomes.cli", "ingest", str(path), "--warehouse", wh, "--json"],
                            env=_env(**env), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _ingest_here(path, wh) -> str:
    """An ingest in this process (the flow itself, as the CLI runs it): only the run that dies
    needs a process of its own, and each costs ~4 s of imports."""
    from flows.ingest import ingest_in_process

    return ingest_in_process(str(path), warehouse=wh)["status"]


def _state(wh):
    return {
        "loads": query(wh, "SELECT export_id, status FROM ops.loads ORDER BY load_id"),
        "core": query(wh, "SELECT (SELECT count(*) FROM core.sessions), (SELECT count(*) FROM core.assessments), "
                          "(SELECT count(*) FROM history.assessments), (SELECT count(*) FROM ops.quarantine), "
                          "(SELECT count(*) FROM ops.validation_results), (SELECT count(*) FROM ops.alerts)"),
    }


@pytest.mark.parametrize("step", ["after_patients", "after_assessments", "before_commit"])
def test_death_inside_the_load_transaction_then_retry(tmp_path, step):
    wh = str(tmp_path / "wh.duckdb")
    first = write_export(tmp_path / "x", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    assert _ingest_here(first, wh) == "loaded"
    before = _state(wh)
    second = write_export(tmp_path / "x", export_id="e2", exported_at="2025-02-28T23:00:00Z", mode="incremental")
    p = _ingest(second, wh, OUTCOMES_TEST_FAULT=step)
    assert p.wait() == 137  # died abruptly inside the transaction
    assert _state(wh) == before  # nothing of e2, not even its ledger row
    assert _ingest_here(second, wh) == "loaded"
    after = _state(wh)
    assert after["loads"] == [("e1", "loaded"), ("e2", "loaded")]
    # e2 re-sends every record: each becomes current once, the e1 versions move to history once
    assert after["core"][0][:3] == (2, 3, 3)
    assert _ingest_here(second, wh) == "duplicate"
    assert _state(wh)["loads"][-1] == ("e2", "duplicate")


def test_sigkill_at_a_random_moment_then_retry(tmp_path):
    """A real kill -9 from outside, at a random point of a bigger export's ingest."""
    from synth import generate_registry

    folders = generate_registry(tmp_path / "reg", "crash-test", 300, seed=3, months=1)
    reference = str(tmp_path / "reference.duckdb")
    assert _ingest_here(folders[0], reference) == "loaded"
    expected = _state(reference)["core"]
    rng = random.Random(int(os.environ.get("CRASH_SEED", "7")))
    for attempt in range(3):
        wh = str(tmp_path / f"wh{attempt}.duckdb")
        p = _ingest(folders[0], wh)
        time.sleep(rng.uniform(2.0, 9.0))
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
        p.wait()
        if os.path.exists(wh):
            loaded = [s for _, s in query(wh, "SELECT export_id, status FROM ops.loads")]
            assert loaded in ([], ["loaded"])  # all or nothing
        assert _ingest_here(folders[0], wh) in ("loaded", "duplicate")  # duplicate: killed after its commit
        state = _state(wh)
        assert [s for _, s in state["loads"]].count("loaded") == 1
        assert state["core"][0][:5] == expected[0][:5]
