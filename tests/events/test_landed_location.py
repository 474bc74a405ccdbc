"""`registry.export.landed` names an export by its location; only the landing zone is ingested from,
so an event naming a folder elsewhere (emitted by hand, as docs/operations.md shows) fails clearly
instead of reporting success having loaded nothing."""
from __future__ import annotations

import pytest

from tests.exports import write_export


def test_landed_event_outside_the_landing_zone_fails_clearly(tmp_path, monkeypatch):
    from flows.sweep import ingest_landed

    cfg = tmp_path / "outcomes.toml"
    cfg.write_text(f'landing_zone = "{tmp_path / "landing"}"\nwarehouse = "{tmp_path / "wh.duckdb"}"\n')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(cfg))
    monkeypatch.delenv("OUTCOMES_INGEST_WORKER", raising=False)
    elsewhere = write_export(tmp_path / "elsewhere", registry="reg-l", export_id="l1")
    with pytest.raises(RuntimeError, match="not in the landing zone"):
        ingest_landed(str(elsewhere), "reg-l")
