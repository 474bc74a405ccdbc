"""Write canonical rows built in Python into the workspace as raw_<table>, as the protocol wants:
(_line BIGINT, every contract column as VARCHAR), nothing else. Shared by the adapters whose rows
are built in Python (REDCap, and FHIR resources too irregular for SQL)."""
from __future__ import annotations

import duckdb
import pyarrow as pa

from transforms.tables import TABLES


def write_raw(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> int:
    cols = TABLES[table].column_names
    data = {"_line": pa.array([r["_line"] for r in rows], pa.int64())}
    for c in cols:
        data[c] = pa.array([r.get(c) for r in rows], pa.string())
    name = f"_raw_arrow_{table}"
    con.register(name, pa.table(data))
    try:
        select = ", ".join(['_line::BIGINT AS _line'] + [f'"{c}"::VARCHAR AS "{c}"' for c in cols])
        con.execute(f"CREATE OR REPLACE TEMP TABLE raw_{table} AS SELECT {select} FROM {name} ORDER BY _line")
    finally:
        con.unregister(name)
    return len(rows)
