"""A real Prefect server for the whole session (`prefect server start` on a free loopback port, temp
PREFECT_HOME), and `outcomes serve` processes started per test module against it.

Every service instance gets its own name (deployments, events and triggers are scoped by it), its own
landing zone and warehouse, so modules do not see each other's exports."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

_HOME = tempfile.mkdtemp(prefix="outcomes-prefect-home-")
os.environ["PREFECT_HOME"] = _HOME
os.environ["PREFECT_RUNNER_POLL_FREQUENCY"] = "1"
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "events-tests-" + "k" * 40)
os.environ["PREFECT_LOGGING_LEVEL"] = "WARNING"

from tests.events.service import Service, free_port  # noqa: E402  (after PREFECT_HOME is set)


def pytest_sessionfinish(session, exitstatus):
    """The server's database and logs: kept to read when a test failed, else one folder per run piled
    up. Removed at exit: Prefect's client still writes its parameter storage there until then."""
    if exitstatus == 0:
        atexit.register(shutil.rmtree, _HOME, True)


@pytest.fixture(scope="session")
def prefect_server():
    if os.environ.get("OUTCOMES_TEST_PREFECT_API"):  # a pytest run inside a test: its parent's server
        os.environ["PREFECT_API_URL"] = os.environ["OUTCOMES_TEST_PREFECT_API"]
        yield os.environ["OUTCOMES_TEST_PREFECT_API"]
        return
    from flows.serve_command import start_server, stop

    home = Path(_HOME) / "server"
    extra = {"PREFECT_UI_ENABLED": "false", "PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS": "2",
             "PREFECT_LOGGING_LEVEL": "WARNING"}
    import click

    for attempt in range(3):  # the free port may be taken by another worker before the server binds it
        try:
            proc, api = start_server("127.0.0.1", free_port(), home, home / "server.log", extra)
        except click.ClickException:
            if attempt == 2:
                raise
            continue
        time.sleep(0.5)
        if proc.poll() is None:  # ours answered, not another worker's server on the same port
            break
        if attempt == 2:
            raise RuntimeError(f"the Prefect server exited at start (see {home / 'server.log'})")
    os.environ["PREFECT_API_URL"] = api
    yield api
    stop(proc, "prefect server", grace=15)


@pytest.fixture(autouse=True)
def _this_server(prefect_server):
    """Point this process's Prefect client at the events server for each test. Another test folder
    may have entered prefect_test_harness() in this worker, whose settings context would win over
    the environment variable and send automations and events to a server without triggers."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: prefect_server}):
        yield


@pytest.fixture(scope="module")
def service(prefect_server, tmp_path_factory):
    svc = Service(tmp_path_factory.mktemp("svc"), prefect_server).start()
    yield svc
    svc.stop()
