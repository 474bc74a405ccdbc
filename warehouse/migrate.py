"""Versioned migrations: warehouse/migrations/NNNN_name.sql, applied once each, in order, each in
its own transaction with its ledger row."""
from __future__ import annotations

import re
from pathlib import Path

import duckdb

MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def migrations() -> list[tuple[int, Path]]:
    out = []
    for p in sorted(MIGRATIONS.glob("*.sql")):
        m = _NAME.match(p.name)
        if m:
            out.append((int(m.group(1)), p))
    return out


def has_table(con: duckdb.DuckDBPyConnection, schema: str, table: str, catalog: str | None = None) -> bool:
    """Whether a migration has made schema.table yet (a warehouse older than the code that reads it,
    opened read-only, is not migrated)."""
    return con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?"
        + (" AND database_name = ?" if catalog else ""),
        [schema, table] + ([catalog] if catalog else []),
    ).fetchone()[0] > 0


def current_version(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> int:
    prefix = f"{catalog}." if catalog else ""
    if not has_table(con, "ops", "schema_migrations", catalog):
        return 0
    return con.execute(f"SELECT coalesce(max(version), 0) FROM {prefix}ops.schema_migrations").fetchone()[0]


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Apply pending migrations to the connection's default database; returns versions applied."""
    applied = []
    have = current_version(con)
    for version, path in migrations():
        if version <= have:
            continue
        con.execute("BEGIN")
        try:
            con.execute("CREATE SCHEMA IF NOT EXISTS ops")
            con.execute(
                "CREATE TABLE IF NOT EXISTS ops.schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR, "
                "applied_at TIMESTAMPTZ DEFAULT current_timestamp)"
            )
            con.execute(path.read_text())
            con.execute("INSERT INTO ops.schema_migrations (version, name) VALUES (?, ?)", [version, path.name])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        applied.append(version)
    return applied
