"""A build is bounded (memory limit, threads) and leaves no intermediate tables behind."""
from datetime import datetime, timezone

from reports.marts import build_in_memory


def test_build_is_bounded_and_drops_intermediates(warehouse, tmp_path):
    con, info = build_in_memory(warehouse, cutoff=datetime(2025, 3, 1, tzinfo=timezone.utc), temp_directory=tmp_path)
    try:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        value, unit = limit.split()
        assert float(value) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit] <= 2 * 2**30  # not DuckDB's 80 % of RAM
        assert con.execute("SELECT current_setting('temp_directory')").fetchone()[0] == str(tmp_path)
        left = con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
        assert left == []
        assert info["tables"]["session_safety"] > 0
    finally:
        con.close()


def test_report_month_build_has_the_same_rows_for_what_a_report_reads(warehouse, tmp_path):
    """build(report_month=) (what a report uses) skips other months' detail; the rows it keeps
    (that month, cumulative, and sessions per month by group) equal those of a full build."""
    cutoff = datetime(2025, 3, 1, tzinfo=timezone.utc)
    full, _ = build_in_memory(warehouse, cutoff=cutoff, temp_directory=tmp_path / "a")
    part, _ = build_in_memory(warehouse, cutoff=cutoff, temp_directory=tmp_path / "b", report_month="2025-02")
    kept = "period IN ('2025-02', 'cumulative')"
    monthly = "site_id = 'all' AND dose_band = 'all' AND phase = 'all'"
    try:
        for table, where in (("ae_rates", kept), ("session_safety", kept), ("bp_excursions", kept),
                             ("peri_dose", kept), ("rems_monitoring", kept), ("suicidality", kept),
                             ("long_term", kept), ("exposure", kept), ("exposure", monthly)):
            sql = f"SELECT * FROM marts.{table} WHERE {where} ORDER BY ALL"
            a, b = ([repr(r) for r in c.execute(sql).fetchall()] for c in (full, part))  # repr: NaN == NaN
            assert a == b, table
            assert a or table in ("suicidality", "long_term"), table  # the cohort has no suicidality units
        months = part.execute("SELECT DISTINCT period FROM marts.ae_rates ORDER BY 1").fetchall()
        assert months == [("2025-02",), ("cumulative",)]
    finally:
        full.close()
        part.close()


def test_a_build_removes_its_temporary_folder_with_its_connection(warehouse, tmp_path, monkeypatch):
    """The folder was removed at exit only: a running service kept one per monthly report."""
    import gc
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    con, _ = build_in_memory(warehouse, cutoff=datetime(2025, 3, 1, tzinfo=timezone.utc), report_month="2025-02")
    assert [p.name[:15] for p in tmp_path.iterdir()] == ["outcomes-marts-"]
    con.close()
    del con
    gc.collect()
    assert list(tmp_path.iterdir()) == []
