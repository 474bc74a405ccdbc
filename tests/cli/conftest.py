import os

import pytest


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory):
    """One temporary Prefect API for the tests here that run ingest flows (starting one costs ~10 s)."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
