"""Ingest flows called from a running process run without Prefect's flow-run heartbeats, whose
thread made every run end on the next whole second (flows.ingest.without_heartbeats)."""
from __future__ import annotations

import prefect.flow_engine
import pytest
from click.testing import CliRunner

from flows.ingest import ingest_export, ingest_exports, without_heartbeats
from outcomes.cli import cli
from tests.exports import write_export


def _spy(monkeypatch) -> list:
    beats: list = []
    real = prefect.flow_engine.FlowRunEngine._emit_flow_run_heartbeat

    def emit(self, *args, **kwargs):
        beats.append(self.flow.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(prefect.flow_engine.FlowRunEngine, "_emit_flow_run_heartbeat", emit)
    return beats


@pytest.mark.prefect_heartbeats  # Prefect's default, which tests/conftest.py's quiet_flows turns off
def test_a_plain_flow_call_beats_and_the_ingest_callers_do_not(tmp_path, monkeypatch):
    beats = _spy(monkeypatch)
    first = write_export(tmp_path / "a", registry="hb", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    assert ingest_export(str(first), warehouse=str(tmp_path / "plain.duckdb"))["status"] == "loaded"
    assert beats == ["ingest-export"]  # Prefect's default: the spy sees heartbeats when they happen

    beats.clear()
    with without_heartbeats():
        assert ingest_export(str(first), warehouse=str(tmp_path / "quiet.duckdb"))["status"] == "loaded"
    second = write_export(tmp_path / "b", registry="hb", export_id="e2", exported_at="2025-02-28T23:00:00Z")
    statuses = [r["status"] for r in ingest_exports([str(tmp_path / "b")], warehouse=str(tmp_path / "quiet.duckdb"))]
    res = CliRunner().invoke(cli, ["ingest", str(second), "--warehouse", str(tmp_path / "cli.duckdb"), "--json"])
    assert res.exit_code == 0, res.output
    assert statuses == ["loaded"]
    assert set(beats) <= {"ingest-exports"}  # the parent flow keeps its own; no ingest-export beats


def test_the_other_e2e_tests_run_flows_without_heartbeats(tmp_path, monkeypatch):
    """tests/conftest.py's quiet_flows: a plain ingest_export call here waits for no heartbeat."""
    beats = _spy(monkeypatch)
    first = write_export(tmp_path / "a", registry="hb", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    assert ingest_export(str(first), warehouse=str(tmp_path / "w.duckdb"))["status"] == "loaded"
    assert beats == []
