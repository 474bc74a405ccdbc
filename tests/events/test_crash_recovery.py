"""The service killed in the middle of a load, exports landing while it is down: after a restart the
sweep (run at start) loads every export exactly once."""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from tests.events.service import Service, land, wait_for
from tests.exports import write_export


def test_killed_mid_load_then_restarted_loads_everything_exactly_once(prefect_server, tmp_path):
    root = tmp_path / "svc"
    root.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="oc-c-"))  # its own temp folder, short: sockets may go there
    # first life: every load dies just before COMMIT (as abruptly as kill -9)
    svc = Service(root, prefect_server, env={"OUTCOMES_TEST_FAULT": "before_commit", "TMPDIR": str(tmp)}).start()
    try:
        first = write_export(tmp_path / "src", registry="reg-k", export_id="k1", exported_at="2025-01-31T23:00:00Z")
        land(first, svc.landing / "reg-k")
        # the ingest reaches the load transaction and dies there: with the warm ingest worker
        # (flows/worker.py) that is the service process itself, else the flow run's process
        wait_for(lambda: svc.proc.poll() == 137 or b"Process exited with status code: 137" in svc.log.read_bytes(),
                 90, what="the ingest to die mid-load")
        assert [r for r in svc.loads() if r[1] == "k1"] == [], "the crashed load must not have committed"
        if svc.proc.poll() is not None:  # the service itself died: nothing of it lives on (its
            # watcher flow run notices that its parent is gone and stops)
            # (it checks once per poll, then its flow run reports its end to the server: on a
            # loaded 2-core machine that took over 30 s once)
            svc.wait_gone(90)
    finally:
        svc.kill()  # kill -9 the service and its flow runs
    # while it is down, another export lands (no watcher: its event is never emitted)
    second = write_export(tmp_path / "src", registry="reg-k", export_id="k2", exported_at="2025-02-28T23:00:00Z")
    land(second, svc.landing / "reg-k")
    svc.env.pop("OUTCOMES_TEST_FAULT")
    svc.start()
    try:
        # the worker's slot died with it; outside the worker a killed run's slot lease (60 s) would expire
        rows = svc.wait_loaded("reg-k", ["k1", "k2"], timeout=150)
        time.sleep(3)  # let any duplicate event/sweep run finish
        rows = [r for r in svc.loads() if r[0] == "reg-k"]
        assert sorted((r[1], r[2]) for r in rows) == [("k1", "loaded"), ("k2", "loaded")], rows
        assert rows[0][1] == "k1"  # exported_at order
        assert svc.sql("SELECT count(*) FROM core.sessions WHERE registry_id = 'reg-k'")[0][0] == 2
        k1_load = rows[0][3]
        per_load = dict(svc.sql("SELECT load_id, count(*) FROM history.sessions WHERE registry_id = 'reg-k' "
                                "GROUP BY load_id"))
        assert per_load.get(k1_load) == 2 and set(per_load) <= {r[3] for r in rows}, per_load
        # the killed life's temporary folders (Prefect's runner storage, the load's spill folder)
        # were removed by the new one; what is left belongs to live processes
        left = [p.name for p in [*tmp.glob("outcomes-*"), *tmp.glob("runner_storage/*")]
                if not (m := re.match(r"outcomes-[a-z]+-(\d+)-", p.name)) or not _alive(int(m.group(1)))]
        assert left == [], (left, sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")))
    finally:
        svc.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
