"""The warm worker's submissions leave no files behind (worker_results_inner.py), checked in a
pytest process of its own: it says why."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_worker_results_are_deleted_once_read(tmp_path, prefect_server):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PYTEST_"))}
    # this session's server (starting one of its own took ~10 s), a Prefect home of its own
    env.update(PYTHONPATH=str(ROOT), OUTCOMES_PSEUDONYM_KEY=os.environ.get("OUTCOMES_PSEUDONYM_KEY", "k" * 32),
               OUTCOMES_TEST_PREFECT_API=prefect_server)
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                        str(Path(__file__).with_name("worker_results_inner.py"))],
                       env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0 and re.search(r"^2 passed", p.stdout, re.M), (p.stdout[-4000:], p.stderr[-2000:])
