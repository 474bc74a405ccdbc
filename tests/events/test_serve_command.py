"""`outcomes serve --with-server`: a signal at any moment stops every process it started."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.events.service import ROOT, free_port, processes_with_env, wait_for


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_while_the_server_starts_stops_the_server(tmp_path, sig):
    home = tmp_path / "prefect-home"
    cfg = tmp_path / "outcomes.toml"
    cfg.write_text(f'landing_zone = "{tmp_path / "landing"}"\nwarehouse = "{tmp_path / "wh.duckdb"}"\n'
                   f'[service]\nname = "sigstart"\nautomations = false\n')
    env = dict(os.environ, OUTCOMES_CONFIG=str(cfg))
    env.pop("PREFECT_API_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "serve", "--with-server", "--port", str(free_port()),
                             "--prefect-home", str(home)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    needle = f"PREFECT_HOME={home.resolve()}".encode()
    try:
        # the server process exists, and is still starting (it takes seconds to answer /api/health)
        wait_for(lambda: processes_with_env(needle), 30, interval=0.05, what="the Prefect server to be started")
        proc.send_signal(sig)  # systemd stop, `kill`, or Ctrl-C on the terminal
        proc.wait(90)
        wait_for(lambda: not processes_with_env(needle), 10, what="the Prefect server to be stopped too")
    finally:
        for pid in [proc.pid] + processes_with_env(needle):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_to_the_service_alone_stops_its_flow_runs(prefect_server, tmp_path, sig):
    """`kill <pid>`, or systemd's stop (KillSignal=SIGINT, KillMode=mixed, docs/operations.md) reach
    `outcomes serve` only, not its process group: the flow runs it started (the watcher runs for
    watch_cycle + 30 s) must end with it."""
    import time

    from tests.events.service import Service

    tmp = Path(tempfile.mkdtemp(prefix="oc-s-"))  # short: Prefect and DuckDB may put sockets here
    svc = Service(tmp_path, prefect_server, env={"TMPDIR": str(tmp)}).start()
    try:
        wait_for(lambda: len(svc.processes()) >= 2, 60, what="the watcher flow run to start")
        time.sleep(2)
        svc.proc.send_signal(sig)
        svc.proc.wait(60)
        wait_for(lambda: not svc.processes(), 30, what=f"every process of the service to end (log {svc.log})")
        # and leave nothing in the temp folder (Prefect's runner left its storage folder there; the
        # parent all runners share may stay)
        assert [str(p.relative_to(tmp)) for p in tmp.rglob("*")] in ([], ["runner_storage"])
    finally:
        svc.kill()
        for pid in svc.processes():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)
