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


def warehouse_path(path: str | Path | None = None) -> Path:
    return Path(path or os.environ.get("OUTCOMES_WAREHOUSE") or DEFAULT_WAREHOUSE)


def _lock_timeout() -> float:
    return float(os.environ.get("OUTCOMES_LOCK_TIMEOUT", "60"))


def is_lock_error(e: Exception) -> bool:
    text = str(e).lower()
    return "lock" in text or "conflicting lock" in text or "being used by another process" in text


def retry_locked(fn, timeout: float | None = None):
    """Call fn until it does not fail on the file lock, or the timeout passes."""
    deadline = time.monotonic() + (_lock_timeout() if timeout is None else timeout)
    delay = 0.02
    while True:
        try:
            return fn()
        except duckdb.IOException as e:
            if not is_lock_error(e) or time.monotonic() >= deadline:
                raise
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 1.5, 0.1)  # a load holds the lock ~0.1-1 s: notice its end promptly


def open_readonly(path: str | Path | None = None, external_access: bool = False,
                  timeout: float | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection; with external_access=False a query can neither read nor write files."""
    p = warehouse_path(path)
    if not p.exists():
        raise FileNotFoundError(f"no warehouse at {p}: run `outcomes ingest` first (or set OUTCOMES_WAREHOUSE)")
    config = {"access_mode": "READ_ONLY"}
    if not external_access:
        config["enable_external_access"] = False
    con = retry_locked(lambda: duckdb.connect(str(p), read_only=True, config=config), timeout)
    if not external_access:
        con.execute("SET lock_configuration = true")
    return con


def attach(con: duckdb.DuckDBPyConnection, path: str | Path, alias: str = "wh", read_only: bool = False,
           timeout: float | None = None) -> None:
    """Attach the warehouse file to a work connection (the file lock is held until detach)."""
    mode = " (READ_ONLY)" if read_only else ""
    lit = "'" + str(path).replace("'", "''") + "'"
    retry_locked(lambda: con.execute(f"ATTACH {lit} AS {alias}{mode}"), timeout)


def detach(con: duckdb.DuckDBPyConnection, alias: str = "wh") -> None:
    con.execute("USE memory")
    con.execute(f"DETACH DATABASE IF EXISTS {alias}")


def ensure_warehouse(path: str | Path | None = None) -> Path:
    """Create the file and apply pending migrations (a short write)."""
    from warehouse.migrate import current_version, migrate, migrations

    p = warehouse_path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.exists():
        try:
            ro = open_readonly(p, external_access=True)
            try:
                if current_version(ro) >= max(v for v, _ in migrations()):
                    return p
            finally:
                ro.close()
        except duckdb.Error:
            pass
    con = retry_locked(lambda: duckdb.connect(str(p)))
    try:
        migrate(con)
    finally:
        con.close()
    return p
