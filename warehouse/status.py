"""What `outcomes status` shows: recent load attempts, current rows, quarantine by rule, rows
parked until their parent arrives, and notifications the service has not sent yet."""
from __future__ import annotations

import duckdb

from transforms import sqlfiles
from warehouse.migrate import has_table


def status_report(con: duckdb.DuckDBPyConnection, limit: int | None = 10) -> dict:
    """limit: how many recent load attempts (None: all). `loads_table` is (columns, rows) for the
    text table; the command line drops it from --json output."""
    if limit is not None and limit < 0:
        raise ValueError("limit must be >= 0 (or None for all)")
    cur = con.execute(sqlfiles.read_sql("warehouse", "status/recent_loads.sql"), [limit])
    cols = [d[0] for d in cur.description]
    loads = cur.fetchall()
    current = con.execute(sqlfiles.read_sql("warehouse", "status/current_rows.sql")).fetchall()
    quarantine = con.execute(sqlfiles.read_sql("warehouse", "status/quarantine_by_rule.sql")).fetchall()
    unsent = []
    if has_table(con, "ops", "outbox"):  # a warehouse from before migration 0003 has none
        unsent = con.execute(sqlfiles.read_sql("warehouse", "status/unsent_notifications.sql")).fetchall()
    parked = []
    if has_table(con, "parked", "sessions"):  # migration 0006
        parked = con.execute(sqlfiles.read_sql("warehouse", "status/parked_rows.sql")).fetchall()
    return {
        "loads": [dict(zip(cols, r)) for r in loads],
        "loads_table": (cols, loads),
        "current": [{"registry_id": r[0], "table": r[1], "rows": r[2]} for r in current],
        "quarantine": [{"registry_id": r[0], "table": r[1], "rule": r[2], "rows": r[3]} for r in quarantine],
        "unsent_notifications": [{"registry_id": r[0], "instance": r[1], "loads": r[2], "oldest_queued": r[3]}
                                 for r in unsent],
        "parked": [{"registry_id": r[0], "table": r[1], "rows": r[2], "oldest_export": r[3]} for r in parked],
    }
