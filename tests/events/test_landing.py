"""Exports landing in the zone are loaded by the running service, complete, once and in order."""
from __future__ import annotations

import time

from tests.events.service import land
from tests.exports import write_export

DEADLINE = 45.0  # seconds from landing to queryable, generous for a 2-core CI machine


def test_landed_export_is_queryable_within_deadline(service, tmp_path):
    src = write_export(tmp_path, registry="reg-a", export_id="2025-01-31T23-00-00Z")
    t0 = time.monotonic()
    land(src, service.landing / "reg-a")
    rows = service.wait_loaded("reg-a", ["2025-01-31T23-00-00Z"], timeout=DEADLINE)
    assert rows[0][2] == "loaded"
    n = service.sql("SELECT count(*) FROM core.sessions WHERE registry_id = 'reg-a'")[0][0]
    assert n == 2
    print(f"landing to queryable: {time.monotonic() - t0:.1f} s")


def test_half_written_export_is_not_read_until_complete(service, tmp_path):
    src = write_export(tmp_path, registry="reg-b", export_id="2025-02-28T23-00-00Z")
    dest = service.landing / "reg-b" / src.name
    dest.mkdir(parents=True)
    # the manifest first, then half of one file, the rest missing: a copy in progress
    (dest / "manifest.json").write_bytes((src / "manifest.json").read_bytes())
    data = (src / "sessions.csv").read_bytes()
    (dest / "sessions.csv").write_bytes(data[: len(data) // 2])
    time.sleep(2)  # several watcher scans (every 0.25 s, settle 0.5 s) ...
    # ... and proof that the watcher was running meanwhile: an export landing after it loads
    witness = write_export(tmp_path / "witness", registry="reg-b2", export_id="2025-02-28T23-00-00Z")
    land(witness, service.landing / "reg-b2")
    service.wait_loaded("reg-b2", [witness.name], timeout=DEADLINE)
    assert [r for r in service.loads() if r[0] == "reg-b"] == []
    # complete the copy slowly, file by file
    for f in sorted(src.iterdir()):
        if f.name != "manifest.json":
            (dest / f.name).write_bytes(f.read_bytes())
            time.sleep(0.2)
    rows = service.wait_loaded("reg-b", [src.name], timeout=DEADLINE)
    assert [r[2] for r in rows] == ["loaded"], rows


def test_two_exports_landing_together_load_in_exported_at_order(service, tmp_path):
    # names sort the other way round from exported_at, so a name-ordered loader would fail
    late = write_export(tmp_path, registry="reg-o", export_id="a-late", exported_at="2025-03-31T23:00:00Z")
    early = write_export(tmp_path, registry="reg-o", export_id="b-early", exported_at="2025-02-28T23:00:00Z")
    import os
    import shutil

    tmps = []
    for src in (late, early):
        t = service.landing / "reg-o" / f".{src.name}"
        shutil.copytree(src, t)
        tmps.append((t, service.landing / "reg-o" / src.name))
    for t, final in tmps:
        os.rename(t, final)
    rows = service.wait_loaded("reg-o", ["a-late", "b-early"], timeout=DEADLINE)
    by_id = {r[1]: r for r in rows}
    assert by_id["b-early"][2] == by_id["a-late"][2] == "loaded", rows
    assert by_id["b-early"][3] < by_id["a-late"][3], "b-early (earlier exported_at) must load first"
    assert len(rows) == 2  # once each: no duplicate attempts recorded


def test_without_the_warm_worker_flow_runs_ingest_in_order_under_the_prefect_limit(prefect_server, tmp_path):
    """`ingest_worker = false`: each triggered run ingests in its own process, the registry's
    Prefect concurrency limit keeps them one at a time, and exports still load in exported_at order."""
    from tests.events.service import Service

    (tmp_path / "svc").mkdir()
    svc = Service(tmp_path / "svc", prefect_server, service="ingest_worker = false").start()
    try:
        a = write_export(tmp_path / "src", registry="reg-nw", export_id="n1", exported_at="2025-01-31T23:00:00Z")
        b = write_export(tmp_path / "src", registry="reg-nw", export_id="n2", exported_at="2025-02-28T23:00:00Z")
        land(b, svc.landing / "reg-nw")
        land(a, svc.landing / "reg-nw")
        rows = svc.wait_loaded("reg-nw", ["n1", "n2"], timeout=120)
        assert [(r[1], r[2]) for r in sorted(rows, key=lambda r: r[3])] == [("n1", "loaded"), ("n2", "loaded")]
        assert b"warmed up" not in svc.log.read_bytes()  # no worker in this service
    finally:
        svc.stop()
