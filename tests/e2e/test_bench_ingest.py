"""bench/ingest.py runs all three contenders on a real (small) export, so a change to the
pipeline's steps cannot leave the benchmark's baselines broken (session 10: the naive baseline
called stage.conform_table without the table of parkable lines and failed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def test_the_ingest_benchmark_runs_every_contender_on_the_same_rows(tmp_path, prefect_api):
    # the suite's Prefect API: starting one of its own cost this test ~15 s (bench/ingest.py starts
    # one when PREFECT_API_URL is unset, as `make bench` on a fresh machine does)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": prefect_api}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "ingest.py"), "--rows", "2000", "--work",
                          str(tmp_path / "work"), "--json"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["pipeline"]["loaded"] + result["pipeline"]["quarantined"] == result["total_rows"]
    assert result["naive"]["loaded"] == result["pipeline"]["loaded"]
    assert result["duckdb"]["rows_per_second"] > 0


def test_the_small_ingests_benchmark_loads_its_export_each_time(tmp_path, prefect_api):
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": prefect_api}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "small_ingests.py"), "--ingests", "2", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    assert result["ingests"] == 2 and result["rows"] > 100
    assert 0 < result["steps_median"]["validate"] < result["median_seconds"]


def test_the_late_exports_benchmark_loads_the_newest_two_in_both_orders(tmp_path, prefect_api):
    from synth import generate_registry

    exports = generate_registry(tmp_path / "registry", "bench-late", 5, seed=3, months=3)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_API_URL": prefect_api}
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "late_exports.py"), "--registry",
                          str(tmp_path / "registry"), "--json"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout)
    newest_two = [e.name for e in sorted(exports)[-2:]]
    assert list(result["in_order"])[1:] == newest_two and list(result["late"])[1:] == newest_two[::-1]
    assert all(0 < v["load"] < v["seconds"] for order in ("in_order", "late") for v in result[order].values())
