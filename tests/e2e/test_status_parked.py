"""End-to-end: `outcomes status` names the oldest export that parked rows still wait from, by its
export time, not by the sort order of export ids (the contract only asks ids to be unique)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from exports import BASE, write_export
from flows.ingest import ingest_export
from outcomes.cli import cli

pytestmark = pytest.mark.e2e


def _orphan(session_id: str, patient_id: str) -> dict:
    return {**BASE["sessions"][0], "session_id": session_id, "patient_id": patient_id}


def test_oldest_export_of_parked_rows_is_the_earliest_exported(tmp_path, wh):
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    for export_id, at, sid, pid in (("zz-feb", "2025-02-28T23:00:00Z", "SN1", "MRN-3001"),
                                    ("aa-mar", "2025-03-31T23:00:00Z", "SN2", "MRN-3002")):
        r = ingest_export(str(write_export(tmp_path / export_id, {"sessions": [_orphan(sid, pid)]}, export_id=export_id,
                                           exported_at=at, mode="incremental")), warehouse=wh, reject_threshold=1.0)
        assert r["tables"]["sessions"]["parked"] == 1
    res = CliRunner().invoke(cli, ["status", "-w", wh, "--json"])
    assert json.loads(res.stdout)["parked"] == [
        {"registry_id": "test-registry", "table": "sessions", "rows": 2, "oldest_export": "zz-feb"}]


def test_status_counts_the_parked_rows_a_load_made_current(tmp_path, wh):
    """rows_loaded counts the export's own rows; rows a later load brings out of parking are that
    load's rows_unparked (they were nowhere in status before)."""
    assert ingest_export(str(write_export(tmp_path / "jan", export_id="jan")), warehouse=wh)["status"] == "loaded"
    r = ingest_export(str(write_export(tmp_path / "feb", {"sessions": [_orphan("SN1", "MRN-3001")]}, export_id="feb",
                                       exported_at="2025-02-28T23:00:00Z", mode="incremental")),
                      warehouse=wh, reject_threshold=1.0)
    assert r["tables"]["sessions"]["parked"] == 1
    patient = {**BASE["patients"][0], "patient_id": "MRN-3001"}
    r = ingest_export(str(write_export(tmp_path / "mar", {"patients": [patient]}, export_id="mar",
                                       exported_at="2025-03-31T23:00:00Z", mode="incremental")), warehouse=wh)
    assert r["unparked"] == {"sessions": 1}
    loads = {x["export_id"]: x for x in json.loads(CliRunner().invoke(cli, ["status", "-w", wh, "--json"]).stdout)["loads"]}
    assert (loads["mar"]["rows_loaded"], loads["mar"]["rows_unparked"]) == (1, 1)
    assert (loads["feb"]["rows_loaded"], loads["feb"]["rows_quarantined"], loads["feb"]["rows_unparked"]) == (0, 1, 0)


def test_status_counts_the_quarantine_of_loaded_exports_once_and_all_its_rules(tmp_path, wh, monkeypatch):
    """A review found a rejected export's rows counted again with every retry, and the list cut at
    50 rules without a word."""
    import outcomes.cli

    bad = {**BASE["sessions"][0], "session_id": "S7", "drug": "tea"}
    rejected = write_export(tmp_path / "r", {"sessions": [bad]}, export_id="r1", mode="incremental")
    for _ in range(2):
        assert ingest_export(str(rejected), warehouse=wh)["status"] == "rejected"
    loaded = write_export(tmp_path / "l", {"sessions": [{**bad, "session_id": "S8"}, BASE["sessions"][0]],
                                           "patients": BASE["patients"]}, export_id="l1", mode="incremental",
                          exported_at="2025-02-28T23:00:00Z")
    assert ingest_export(str(loaded), warehouse=wh, reject_threshold=1.0)["status"] == "loaded"
    quarantine = json.loads(CliRunner().invoke(cli, ["status", "-w", wh, "--json"]).stdout)["quarantine"]
    assert quarantine == [{"registry_id": "test-registry", "table": "sessions", "rule": "sessions.drug.code", "rows": 1}]
    monkeypatch.setattr(outcomes.cli, "STATUS_RULES_SHOWN", 0)
    text = CliRunner().invoke(cli, ["status", "-w", wh]).stdout
    assert "... and 1 more rules (--json lists them all)" in text
