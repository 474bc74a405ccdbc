"""Small registries shared by the synth tests (generated once per test session)."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import pytest

# This folder is called `synth` like the package. When tests/ is on sys.path (tests/conftest.py
# puts it there) and the project root is not (bare `pytest`), `import synth` finds this folder as
# a namespace package. Put the root first and forget such a namespace import.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
if getattr(sys.modules.get("synth"), "__file__", "") is None:
    del sys.modules["synth"]

from synth import CohortParams, generate_registry  # noqa: E402


@pytest.fixture(scope="session")
def clean_registry(tmp_path_factory):
    """400 patients over 6 months, realistic defaults, more withdrawals and corrections."""
    out = tmp_path_factory.mktemp("clean")
    params = CohortParams(withdrawal_rate=0.05, correction_rate=0.02)
    generate_registry(out, "north-clinic", 400, seed=11, start=date(2025, 1, 1), months=6, params=params)
    return out


@pytest.fixture(scope="session")
def bad_registry(tmp_path_factory):
    """300 patients over 4 months with 15 % bad rows."""
    out = tmp_path_factory.mktemp("bad")
    generate_registry(out, "south-clinic", 300, seed=5, months=4, bad_rows=0.15)
    return out
