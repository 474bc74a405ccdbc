"""Fixtures for adapter tests: a pseudonym key in the environment (the adapters and the flow
refuse to run without one), the real samples' folder, and one Prefect test harness per session
for the end-to-end tests (entering it costs about 10 s)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"
if not REAL.is_dir():  # a checkout elsewhere: the workplace copy
    REAL = Path("/work/shared/data/real")
KEY = "adapter-tests-key-0123456789abcdef0123456789"


@pytest.fixture(autouse=True)
def pseudonym_key(monkeypatch):
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", KEY)


@pytest.fixture(scope="session")
def real() -> Path:
    if not REAL.is_dir():
        pytest.skip("shared/data/real is not available")
    return REAL


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    from prefect.testing.utilities import prefect_test_harness

    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", KEY)
    # A home of its own, as in tests/e2e: ~/.prefect is shared with the other xdist worker and with
    # any `outcomes` command run beside the tests ("database is locked" seen once).
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture
def ws():
    from transforms.workspace import open_workspace

    con = open_workspace()
    yield con
    con.close()
