"""The in-memory DuckDB an export is read, staged and validated in, before the short write.

Work happens here rather than in the warehouse so that the warehouse file is held only for the
load transaction. Memory is capped and spills to a temporary folder, so a 10M-row export fits in
the 2 GB budget.
"""
from __future__ import annotations

import shutil
import weakref
from pathlib import Path

import duckdb

from outcomes import scratch
from outcomes.config import env_memory
from transforms import stage

SPILL_PREFIX = "outcomes-spill-"


def open_workspace(timezone_name: str = "UTC", memory_limit: str | None = None, threads: int | None = None):
    spill = str(scratch.make(SPILL_PREFIX))  # and the spill folders of killed ingests go
    config = {
        "memory_limit": memory_limit or env_memory("OUTCOMES_MEMORY_LIMIT", "1000MB"),
        "temp_directory": spill,
        "preserve_insertion_order": True,
    }
    if threads:
        config["threads"] = threads
    con = duckdb.connect(":memory:", config=config)
    # DuckDB deletes its spill files at close but not a folder it did not create; the folder goes
    # with the connection (or at exit), so a caller that only closes it leaks nothing in /tmp.
    weakref.finalize(con, shutil.rmtree, spill, True)
    con.execute("SET TimeZone = ?", [timezone_name])
    stage.install_macros(con)
    return con


def close_workspace(con) -> None:
    """Close a workspace and remove its spill folder now. The folder also goes with the connection
    object, but only once nothing refers to it: an object held in a reference cycle (a relation a
    cache keeps) lives until the garbage collector runs, and the warm-up's test saw its folder left."""
    try:
        spill = con.execute("SELECT current_setting('temp_directory')").fetchone()[0]
    except duckdb.Error:  # closed already, or broken (out of memory): the finalizer stays the fallback
        spill = None
    con.close()
    if spill and Path(spill).name.startswith(SPILL_PREFIX):
        shutil.rmtree(spill, ignore_errors=True)
