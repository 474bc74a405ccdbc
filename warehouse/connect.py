"""Where the warehouse is, and how to open it for each kind of use.

DuckDB lets one process write a database file at a time, and while it does no other process can
open the file, not even to read. So writers hold the file only for short transactions, and every
opener retries for a while before giving up (OUTCOMES_LOCK_TIMEOUT seconds, default 60).
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import duckdb

DEFAULT_WAREHOUSE = "./data/warehouse.duckdb"
# DuckDB opens any path as a database file, but a name such as x.csv or x.parquet reads as a data
# file (to people, and to DuckDB's replacement scans in queries): only these are warehouse names.
WAREHOUSE_SUFFIXES = (".duckdb", ".db", ".ddb", "")


class WarehouseError(Exception):
    """The warehouse file cannot be used; the message is one line, fit for the command line."""


class WarehouseBusy(WarehouseError, duckdb.IOException):
    """Another process held the file lock for longer than the lock timeout (still an IOException,
    as before, for callers that catch that)."""


class NotAWarehouse(WarehouseError, duckdb.IOException):
    """The file exists but is not a DuckDB database."""


class MissingWarehouse(FileNotFoundError):
    """No warehouse file at `path`. The text suggests OUTCOMES_WAREHOUSE; the CLI, which knows
    where the path came from (-w, outcomes.toml, the variable), words its own hint."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(f"no warehouse at {path}: run `outcomes ingest` first (or set OUTCOMES_WAREHOUSE)")


def warehouse_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("OUTCOMES_WAREHOUSE") or DEFAULT_WAREHOUSE)


def check_warehouse_name(path: str | Path) -> Path:
    """Refuse warehouse paths whose suffix names a data file (x.csv, x.parquet, x.json.gz, ...)."""
    p = Path(path)
    if p.suffix.lower() not in WAREHOUSE_SUFFIXES:
        raise WarehouseError(f"{p}: a warehouse file name ends in .duckdb, .db or .ddb (or has no suffix), "
                             f"not {p.suffix}")
    return p


def _lock_timeout() -> float:
    from outcomes.config import env_seconds

    return env_seconds("OUTCOMES_LOCK_TIMEOUT", 60.0)


def is_lock_error(e: Exception) -> bool:
    text = str(e).lower()
    return "lock" in text or "conflicting lock" in text or "being used by another process" in text


def retry_locked(fn, timeout: float | None = None, path: str | Path | None = None):
    """Call fn until it does not fail on the file lock, or the timeout passes (then WarehouseBusy).
    A file that is not a DuckDB database raises NotAWarehouse (naming `path` when given)."""
    deadline = time.monotonic() + (_lock_timeout() if timeout is None else timeout)
    delay = 0.02
    while True:
        try:
            return fn()
        except WarehouseError:
            raise
        except duckdb.IOException as e:
            if "not a valid duckdb database file" in str(e).lower():
                raise NotAWarehouse(f"{path or 'the file'} exists but is not a DuckDB warehouse file") from e
            if not is_lock_error(e):
                raise
            if time.monotonic() >= deadline:
                waited = _lock_timeout() if timeout is None else timeout
                raise WarehouseBusy(f"warehouse is busy (locked by another process) after {waited:g} s; "
                                    "try again") from e
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 1.5, 0.1)  # a load holds the lock ~0.1-1 s: notice its end promptly


def open_readonly(path: str | Path | None = None, external_access: bool = False,
                  timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection; with external_access=False a query can neither read nor write files."""
    p = warehouse_path(path)
    if not p.exists():
        raise MissingWarehouse(p)
    config = {"access_mode": "READ_ONLY"}
    if not external_access:
        config["enable_external_access"] = False
    con = retry_locked(lambda: duckdb.connect(str(p), read_only=True, config=config), timeout, path=p)
    # timestamps print in UTC whatever the host's zone: the same query gives the same answer (and
    # `make demo` the same report month) on every machine
    con.execute("SET TimeZone = 'UTC'")
    if not external_access:
        con.execute("SET lock_configuration = true")
    return con


def attach(con: duckdb.DuckDBPyConnection, path: str | Path, alias: str = "wh", read_only: bool = False,
           timeout: float | None = None) -> None:
    """Attach the warehouse file to a work connection (the file lock is held until detach)."""
    mode = " (READ_ONLY)" if read_only else ""
    lit = "'" + str(path).replace("'", "''") + "'"
    retry_locked(lambda: con.execute(f"ATTACH {lit} AS {alias}{mode}"), timeout, path=path)


def detach(con: duckdb.DuckDBPyConnection, alias: str = "wh") -> None:
    con.execute("USE memory")
    con.execute(f"DETACH DATABASE IF EXISTS {alias}")


def require_warehouse(con: duckdb.DuckDBPyConnection, path: str | Path, catalog: str | None = None) -> None:
    """A DuckDB file without the migration ledger is some other program's database: say so in one
    line rather than let a query fail on a missing ops.loads or core.sessions."""
    from warehouse.migrate import has_table

    if not has_table(con, "ops", "schema_migrations", catalog):
        raise NotAWarehouse(f"{path} is a DuckDB database but not an outcomes warehouse (it has no "
                            "ops.schema_migrations): check the path")


def _foreign(con: duckdb.DuckDBPyConnection) -> bool:
    """Tables but no migration ledger: a database some other program made."""
    from warehouse.migrate import has_table

    tables = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database()").fetchone()[0]
    return tables > 0 and not has_table(con, "ops", "schema_migrations")


def ensure_warehouse(path: str | Path | None = None) -> Path:
    """Create the file and apply pending migrations (a short write)."""
    from warehouse.migrate import current_version, migrate, migrations

    p = warehouse_path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WarehouseError(f"cannot create the folder {p.parent}: {e.strerror or e}") from e
    if p.exists():
        try:
            ro = open_readonly(p, external_access=True)
            try:
                if _foreign(ro):  # migrating would write nine schemas into it
                    raise NotAWarehouse(f"{p} is a DuckDB database but not an outcomes warehouse (it has "
                                        "tables and no ops.schema_migrations): give a new or warehouse path")
                if current_version(ro) >= max(v for v, _ in migrations()):
                    return p
            finally:
                ro.close()
        except WarehouseError:
            raise
        except duckdb.Error:
            pass
    con = retry_locked(lambda: duckdb.connect(str(p)), path=p)
    try:
        migrate(con)
    finally:
        con.close()
    return p
