"""End-to-end: what a safety officer is told. A vital sign outside the contract's range is
rejected, as the contract says, but the alerts it raises are raised all the same, marked as
quarantined; so is a PHQ-9 item 9 of a quarantined assessment, and one with an item left blank
loads; a record re-sent by a later export raises no second alert of the same rule; a pre-dose
peri-dose score (negative minutes) is data, not an error."""
from __future__ import annotations


import pytest

from exports import write_export
from flows.ingest import ingest_export
from test_ingest_flow import tables_with
from whquery import query

pytestmark = pytest.mark.e2e


def test_critical_vitals_outside_the_range_are_quarantined_and_still_raise_alerts(tmp_path, wh):
    def vitals(rows):
        rows[1].update(spo2="45", heart_rate="22")  # S1 post40: the export's most dangerous reading
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(vitals=vitals))), warehouse=wh, reject_threshold=1)
    assert r["status"] == "loaded" and r["tables"]["vitals"]["quarantined"] == 1
    assert {"vitals.spo2.range", "vitals.heart_rate.range"} <= set(r["rules_broken"])
    assert query(wh, "SELECT count(*) FROM core.vitals WHERE timepoint = 'post40'") == [(0,)]
    assert query(wh, "SELECT record_id, rule, quarantined, patient_key IS NOT NULL FROM ops.alerts "
                     "WHERE table_name = 'vitals'") == [("S1", "vitals.spo2.low", True, True)]
    assert r["alerts"]["vitals.spo2.low"] == 1
    # `warned` (flagged) counts loaded rows only: the quarantined reading's alert is not a loaded flag
    assert r["tables"]["vitals"]["warned"] == query(wh, "SELECT count(*) FROM core.vitals WHERE warnings IS NOT NULL")[0][0]


def test_a_phq9_item_9_raises_its_alert_whether_the_row_loads_or_not(tmp_path, wh):
    def assessments(rows):
        # A1 (item 9 = 2) with item 3 blank: incomplete, loads with a warning, its sum not checked
        rows[0]["item_scores"] = "3;3;;2;2;2;2;2;2"
        # a second PHQ-9 whose items do not add up to its total: quarantined, item 9 = 1 still raised
        rows.append({**rows[0], "assessment_id": "A6", "item_scores": "3;3;2;2;2;2;2;2;1", "total_score": "25"})
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(assessments=assessments))), warehouse=wh,
                      reject_threshold=1)
    assert r["tables"]["assessments"]["quarantined"] == 1 and "assessments.item_scores.sum" in r["rules_broken"]
    assert query(wh, "SELECT warnings FROM core.assessments WHERE assessment_id = 'A1'") == [
        (["assessments.item_scores.incomplete", "assessments.phq9_item9.positive"],)]
    assert query(wh, "SELECT record_id, quarantined FROM ops.alerts WHERE rule = 'assessments.phq9_item9.positive' "
                     "ORDER BY record_id") == [("A1", False), ("A6", True)]


def test_a_re_sent_record_raises_no_second_alert(tmp_path, wh):
    first = write_export(tmp_path / "a", export_id="e1", exported_at="2025-01-31T23:00:00Z")
    assert ingest_export(str(first), warehouse=wh)["alerts"] == {"assessments.phq9_item9.positive": 1}

    def more(rows):  # the same A1 again, corrected, plus a new positive item 9
        rows[0]["total_score"] = "21"
        rows[0]["item_scores"] = "3;3;2;2;2;2;2;3;2"
        rows.append({**rows[0], "assessment_id": "A4", "assessed_at": "2025-02-20T09:00:00Z"})
    second = write_export(tmp_path / "b", tables_with(assessments=more), export_id="e2", exported_at="2025-02-28T23:00:00Z")
    r = ingest_export(str(second), warehouse=wh)
    assert r["status"] == "loaded" and r["alerts"] == {"assessments.phq9_item9.positive": 1}
    assert query(wh, "SELECT record_id, load_id FROM ops.alerts ORDER BY load_id") == [("A1", 1), ("A4", 2)]


def test_a_pre_dose_score_at_negative_minutes_loads(tmp_path, wh):
    def assessments(rows):
        rows.append({**rows[1], "assessment_id": "A5", "assessed_at": "2025-01-10T08:55:00Z", "total_score": "1",
                     "minutes_after_dose": "-5"})
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(assessments=assessments))), warehouse=wh)
    assert r["tables"]["assessments"]["quarantined"] == 0
    assert query(wh, "SELECT minutes_after_dose FROM core.assessments WHERE assessment_id = 'A5'") == [(-5,)]


def test_the_load_and_the_marts_take_the_same_pre_dose_reading(tmp_path, wh):
    """Two pre-dose readings: the earliest (120/80 at minute 0; one without minutes counts last) is
    the pre-dose reading for the load's alert and for the report alike (the marts took each
    pressure's maximum, from different rows: 140 and 80, and saw no rise of 40)."""
    from reports.marts import rebuild_marts

    def vitals(rows):
        rows[0].update(minutes_after_dose="0", sbp="120", dbp="80")
        rows.insert(1, {**rows[0], "minutes_after_dose": "", "sbp": "140", "dbp": "70"})
        rows[2].update(sbp="165", dbp="86")  # S1 post40: +45 over the earliest, +25 over the highest
    r = ingest_export(str(write_export(tmp_path / "x", tables_with(vitals=vitals))), warehouse=wh)
    assert r["status"] == "loaded" and r["alerts"].get("vitals.sbp.rise_over_pre") == 1
    rebuild_marts(wh)
    assert query(wh, "SELECT units_flagged FROM marts.session_safety WHERE registry_id = 'all' AND drug = 'all' "
                     "AND measure = 'SBP rise >= 40' AND period = 'cumulative'") == [(1,)]


def test_an_export_delivered_twice_counts_its_quarantine_once(tmp_path, wh):
    """Rejected (over the threshold), then delivered again and loaded: ops.quarantine keeps each
    attempt's rows, the data-quality mart counts the latest attempt's."""
    from reports.marts import rebuild_marts

    def vitals(rows):
        rows[1]["sbp"] = "999"
    folder = write_export(tmp_path / "x", tables_with(vitals=vitals))
    assert ingest_export(str(folder), warehouse=wh)["status"] == "rejected"
    assert ingest_export(str(folder), warehouse=wh, reject_threshold=1)["status"] == "loaded"
    assert query(wh, "SELECT count(*) FROM ops.quarantine") == [(2,)]
    rebuild_marts(wh)
    assert query(wh, "SELECT sum(rows_quarantined) FROM marts.dq_quarantine") == [(1,)]
