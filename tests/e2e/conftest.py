import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_harness):
    """Every test here runs flows: the session's temporary Prefect API (tests/conftest.py)."""


@pytest.fixture
def wh(tmp_path):
    return str(tmp_path / "warehouse.duckdb")
