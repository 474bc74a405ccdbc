import os
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent))  # test helpers; real packages win
from flows_free import KEY  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture(autouse=True)
def _pseudonym_key(monkeypatch):
    """Every test runs with a key unless it removes it on purpose."""
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", KEY)
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY_FILE", raising=False)


@pytest.fixture
def shared_data() -> Path:
    path = SHARED / "data" / "real"
    if not path.is_dir():
        pytest.skip(f"../shared/data/real not found at {path}")
    return path
