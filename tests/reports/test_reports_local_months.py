"""Report months are a registry's local months: a session at 21:00 on 30 June in New York is June's
(clinical review finding: it was July's, by its UTC date 1 July)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import duckdb
import pytest

from tests.reports.test_reports_marts_review import _patient, _report, _session, _warehouse

UTC = timezone.utc


def _exposure(con, period):
    return con.execute("SELECT patients, sessions FROM marts.exposure WHERE registry_id = 'reg-a' AND site_id = 'all' "
                       "AND drug = 'all' AND dose_band = 'all' AND phase = 'all' AND period = ?", [period]).fetchone()


@pytest.mark.parametrize("zone, month", [("America/New_York", "2025-06"), (None, "2025-07"), ("UTC", "2025-07"),
                                         ("Europe/Oslo", "2025-07")])
def test_a_session_is_in_its_registry_s_local_month(tmp_path, zone, month):
    # P: 30 June 21:00 in New York = 1 July 01:00 UTC = 1 July 03:00 in Oslo. R: mid-June, mid-July.
    late = _session("P", date(2025, 7, 1), 0, session_start=datetime(2025, 7, 1, 1, 0, tzinfo=UTC))
    sessions = [late, _session("R", date(2025, 6, 16), 0), _session("R", date(2025, 7, 16), 1)]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": [_patient("P"), _patient("R")], "sessions": sessions})
    con = duckdb.connect(str(path))
    con.execute("UPDATE ops.loads SET timezone = ?", [zone])
    con.close()
    june, july = _report(path, "2025-06"), _report(path, "2025-07")
    try:
        in_june = _exposure(june, "2025-06")
        in_july = _exposure(july, "2025-07")
        assert (in_june, in_july) == (((2, 2), (1, 1)) if month == "2025-06" else ((1, 1), (2, 2)))
        # the June report's cut-off is the registry's local midnight: its cumulative rows agree
        assert _exposure(june, "cumulative") == ((2, 2) if month == "2025-06" else (1, 1))
        # what every model reads: P's session at its local wall-clock time (dates, months, day counts)
        from reports.sources import create_sources

        src = duckdb.connect(str(path), read_only=True)
        create_sources(src)
        local = src.execute("SELECT session_start FROM src_sessions WHERE patient_key = 'P'").fetchone()[0]
        src.close()
        want = {"America/New_York": datetime(2025, 6, 30, 21, 0, tzinfo=UTC),
                "Europe/Oslo": datetime(2025, 7, 1, 3, 0, tzinfo=UTC)}.get(zone, datetime(2025, 7, 1, 1, 0, tzinfo=UTC))
        assert local == want
    finally:
        june.close()
        july.close()


def test_the_latest_load_s_zone_wins_and_as_of_sees_its_own(tmp_path):
    from reports.sources import registry_zones

    path = _warehouse(tmp_path / "w.duckdb", {"patients": [_patient("P")],
                                              "sessions": [_session("P", date(2025, 6, 16), 0)]})
    con = duckdb.connect(str(path))
    con.execute("UPDATE ops.loads SET timezone = 'America/New_York'")
    con.execute("INSERT INTO ops.loads SELECT * REPLACE (2 AS load_id, 'Europe/Oslo' AS timezone) FROM ops.loads")
    con.execute("INSERT INTO ops.loads SELECT * REPLACE (3 AS load_id, 'Asia/Tokyo' AS timezone, 'rejected' AS status) "
                "FROM ops.loads WHERE load_id = 1")
    assert registry_zones(con) == {"reg-a": "Europe/Oslo"}
    assert registry_zones(con, as_of_load=1) == {"reg-a": "America/New_York"}
    con.execute("UPDATE ops.loads SET timezone = 'UTC' WHERE load_id = 2")
    assert registry_zones(con) == {}  # UTC: nothing to convert
    con.close()


def _scores(pk, first_start, hours_after):
    """A PHQ-9 baseline of 20 an hour before first_start, and a 9 (a response) `hours_after` it."""
    return [{"registry_id": "reg-a", "assessment_id": f"{pk}-{i}", "patient_key": pk, "session_id": None,
             "assessed_at": first_start + h, "instrument": "PHQ9", "total_score": sc, "minutes_after_dose": None}
            for i, (h, sc) in enumerate(((timedelta(hours=-1), 20), (timedelta(hours=hours_after), 9)))]


@pytest.mark.parametrize("zone", ["America/New_York", None])
def test_time_to_response_is_elapsed_time_across_a_daylight_saving_change(tmp_path, zone):
    # First dose 8 March 2025 20:00 in New York (EST: 01:00 UTC on the 9th); response 23 hours later,
    # 9 March 20:00 EDT, after the clocks went forward: 24 hours on the wall clock, 23 elapsed.
    first = datetime(2025, 3, 9, 1, 0, tzinfo=UTC)
    path = _warehouse(tmp_path / "w.duckdb", {"patients": [_patient("P", enrolled_on=date(2025, 3, 1))],
                                              "sessions": [_session("P", date(2025, 3, 9), 0, session_start=first)],
                                              "assessments": _scores("P", first, 23)})
    con = duckdb.connect(str(path))
    con.execute("UPDATE ops.loads SET timezone = ?", [zone])
    con.close()
    marts = _report(path, "2025-03")
    try:
        got = marts.execute("SELECT days_to_response, responded FROM marts.time_to_response "
                            "WHERE instrument = 'PHQ9'").fetchall()
    finally:
        marts.close()
    assert [(round(d * 24, 6), r) for d, r in got] == [(23.0, True)]
