import os
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).parent))  # test helpers; real packages win
from flows_free import KEY  # noqa: E402

from hypothesis import settings  # noqa: E402

# No per-example deadline: it is a timed test (performance is measured in bench/), and on a busy
# 2-core CI box a first example once took 556 ms against hypothesis's default 200 ms.
settings.register_profile("outcomes", deadline=None)
settings.load_profile("outcomes")

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


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """One temporary Prefect API per test process, for every folder's flow runs (starting one costs
    ~10 s, and each idles at a few % of a core): tests/e2e uses it for every test, the adapters' and
    the reports' end-to-end tests ask for it. A PREFECT_HOME of its own: ~/.prefect is shared with
    the other xdist worker and with any `outcomes` command run beside the tests."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def prefect_api(prefect_harness) -> str:
    """The harness's API URL, for a subprocess to use instead of starting a temporary server."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.fixture
def quiet_flows(request):
    """Flows called by a test run as the project's own callers run them, without Prefect's
    flow-run heartbeats (flows.ingest.without_heartbeats says why): each direct ingest_export call
    otherwise ended on the next whole second, ~0.5 s of waiting per ingest. Tests marked
    prefect_heartbeats keep Prefect's default."""
    if request.node.get_closest_marker("prefect_heartbeats"):
        yield
        return
    from flows.ingest import without_heartbeats

    with without_heartbeats():
        yield
