"""Temporary folders that name their process, so the next process can remove those of a killed one.

A process killed by kill -9 or the OOM killer runs no cleanup: its spill folder (gigabytes of
DuckDB's temporary files for a large export), the worker's warm-up registry and Prefect's runner
storage stay in the temporary folder, one more per crash. Folders made here are named
`<prefix><pid>-<random>`; making one first removes those of its prefix whose process is gone, and
leaves those of live processes and of other users.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path


def make(prefix: str, parent: Path | None = None) -> Path:
    """A new folder `<parent>/<prefix><pid>-<random>` (parent: the temporary folder), after removing
    the folders of the same prefix that killed processes left."""
    stale = remove_orphans(prefix, parent)
    if stale:
        logging.getLogger(__name__).info("removed %d temporary folder(s) of killed processes: %s", len(stale),
                                         ", ".join(stale))
    if parent is not None:
        parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=parent))


def remove_orphans(prefix: str, parent: Path | None = None) -> list[str]:
    """Remove the folders `make(prefix, parent)` made for processes that are gone; returns their names."""
    removed = []
    where = parent if parent is not None else Path(tempfile.gettempdir())
    for folder in where.glob(f"{prefix}*-*"):
        pid = folder.name[len(prefix):].split("-", 1)[0]
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
