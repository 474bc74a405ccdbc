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
