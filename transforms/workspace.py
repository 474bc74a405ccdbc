"""The in-memory DuckDB an export is read, staged and validated in, before the short write.

Work happens here rather than in the warehouse so that the warehouse file is held only for the
load transaction. Memory is capped and spills to a temporary folder, so a 10M-row export fits in
the 2 GB budget.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import duckdb

from transforms import stage

SPILL_PREFIX = "outcomes-spill-"


def open_workspace(timezone_name: str = "UTC", memory_limit: str | None = None, threads: int | None = None):
    stale = remove_stale_spills()
    if stale:
        logging.getLogger(__name__).info("removed the spill folders of %d killed ingest(s): %s", len(stale),
                                         ", ".join(stale))
    spill = tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-")
    config = {
        "memory_limit": memory_limit or os.environ.get("OUTCOMES_MEMORY_LIMIT", "1000MB"),
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


def remove_stale_spills() -> list[str]:
    """Remove the spill folders of workspaces whose process is gone; returns their names.

    A process killed mid-ingest (kill -9, the OOM killer) cannot remove its folder, which holds
    DuckDB's temporary files: ~2.7 GB for a 10M-row export, once more for every crashed retry. The
    folder's name carries its process id; folders of live processes and of other users stay."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{SPILL_PREFIX}*-*"):
        pid = folder.name[len(SPILL_PREFIX):].split("-", 1)[0]
        try:
            if not pid.isdigit() or folder.stat().st_uid != os.getuid() or _alive(int(pid)):
                continue
        except OSError:
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
