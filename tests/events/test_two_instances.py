"""Two `outcomes serve` instances on one Prefect server (docs/operations.md: PostgreSQL "when several
services share a server"), each with its own name, landing zone and warehouse: each one's warm
ingest worker runs its own instance's ingests only."""
from __future__ import annotations

from tests.events.service import Service, land
from tests.exports import write_export


def test_each_instance_ingests_its_own_landing_zone(prefect_server, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a = Service(tmp_path / "a", prefect_server).start(wait=False)  # both start at once
    b = Service(tmp_path / "b", prefect_server).start(wait=False)
    try:
        a.wait_started()
        b.wait_started()
        regs = [f"reg-i{i}" for i in range(4)]
        for rid in regs:
            land(write_export(tmp_path / "src" / rid, registry=rid, export_id="e1"), a.landing / rid)
        for rid in regs:
            a.wait_loaded(rid, ["e1"], timeout=90)
        assert b.loads() == []
        assert not any(rid.encode() in b.log.read_bytes() for rid in regs), "B's worker ran A's ingests"
    finally:
        a.stop()
        b.stop()
