"""Fixtures for adapter tests: a pseudonym key in the environment (the adapters and the flow
refuse to run without one) and the real samples' folder (the end-to-end tests ask for
tests/conftest.py's prefect_harness)."""
from __future__ import annotations

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


@pytest.fixture
def ws():
    from transforms.workspace import open_workspace

    con = open_workspace()
    yield con
    con.close()
