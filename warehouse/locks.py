"""One ingest of a registry at a time into a warehouse, across processes.

An ingest validates against the warehouse as it stands (parents current, the newest full export)
and loads afterwards, in its own transaction: a second ingest of the same registry committing in
between would make those checks stale (a session loaded under a patient a full export had just
withdrawn). The service already runs a registry's ingests one by one; this lock covers CLI runs
beside it or beside each other. flock: released by the kernel when its holder dies (kill -9).
"""
from __future__ import annotations

import fcntl
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path

from transforms.bundle import REGISTRY_RE


def lock_path(warehouse: str | Path, registry_id: str) -> Path:
    name = registry_id if REGISTRY_RE.match(registry_id) else hashlib.sha256(registry_id.encode()).hexdigest()
    return Path(f"{warehouse}.locks") / f"{name}.lock"


@contextmanager
def registry_lock(warehouse: str | Path, registry_id: str, on_wait=None):
    """Hold the registry's ingest lock of this warehouse; on_wait() is called once if another
    process (or thread) holds it and this one waits."""
    path = lock_path(warehouse, registry_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
