import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_harness, quiet_flows):
    """Every test here runs flows: the session's temporary Prefect API, no heartbeats (tests/conftest.py)."""


@pytest.fixture
def wh(tmp_path):
    return str(tmp_path / "warehouse.duckdb")
