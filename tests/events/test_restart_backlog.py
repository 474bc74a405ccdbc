"""After downtime, the service does not replay every watcher, sweep and pull tick it missed: the
server keeps scheduling them while nothing runs them, and a runner starts every late run at once
(up to --limit), which fills its slots with 10-minute watchers and holds back the ingest of new
exports. The start-up watcher, sweep and pulls replace them."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import httpx

from tests.events.service import Service, wait_for


def _runs(api: str, deployment: str) -> list[dict]:
    d = httpx.get(f"{api}/deployments/name/{deployment}", timeout=10)
    d.raise_for_status()
    r = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": [d.json()["id"]]}},
                                                    "limit": 200}, timeout=10)
    r.raise_for_status()
    return r.json()


def _when(s: str | None):
    return datetime.fromisoformat(s.replace("Z", "+00:00")) if s else None


def test_missed_interval_runs_are_not_replayed_after_downtime(prefect_server, tmp_path):
    svc = Service(tmp_path, prefect_server, service="watch_cycle = 10")
    svc.config.write_text(svc.config.read_text().replace("sweep_interval = 300", "sweep_interval = 2"))
    svc.start()
    deps = [f"watch-landing-zone/{svc.name}", f"sweep-landing-zone/{svc.name}"]
    try:
        # the server has scheduled the coming ticks
        wait_for(lambda: all(len([r for r in _runs(prefect_server, d) if r["state_type"] == "SCHEDULED"]) >= 3
                             for d in deps), 60, what="scheduled runs")
    finally:
        svc.kill()
    for pid in svc.processes():  # the dead service's flow runs stop on their own; do not wait for it
        import os
        import signal

        os.kill(pid, signal.SIGKILL)
    time.sleep(20)  # down: ~2 watcher ticks and ~10 sweep ticks pass
    restarted = datetime.now(timezone.utc)
    svc.start()
    try:
        time.sleep(10)  # a runner starts late runs at once (PREFECT_RUNNER_POLL_FREQUENCY = 1)
        replayed = {d: [r for r in _runs(prefect_server, d)
                        if r["state_type"] not in ("SCHEDULED", "CANCELLED")
                        and r["start_time"] and _when(r["start_time"]) >= restarted
                        and _when(r["expected_start_time"]) < restarted - timedelta(seconds=2)]
                    for d in deps}
        assert {d: [(r["expected_start_time"], r["state_name"]) for r in v] for d, v in replayed.items()} == \
            {d: [] for d in deps}
        # and the restarted service did run its ticks meanwhile (else nothing above was tested)
        ran = [r for r in _runs(prefect_server, deps[1]) if r["start_time"] and _when(r["start_time"]) >= restarted]
        assert ran, "the restarted service ran no sweep"

    finally:
        svc.stop()
