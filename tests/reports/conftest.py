import pytest

from tests.reports.cohort import build_warehouse


@pytest.fixture(scope="session")
def warehouse(tmp_path_factory):
    return build_warehouse(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")


@pytest.fixture(scope="session")
def report(warehouse, tmp_path_factory):
    from reports.report import generate_report

    out = tmp_path_factory.mktemp("report")
    return generate_report("2025-02", out, warehouse_path=warehouse)
