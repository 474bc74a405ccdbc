"""Atomic landing: an export is written under a hidden temporary name in the landing folder and
renamed into place only when complete, so a watcher never sees half an export."""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

PARTIAL_GRACE_SECONDS = 6 * 3600.0
# The temporary names of landing_folder (tempfile.mkdtemp: 8 of [a-z0-9_]) and of flows.pull.copy_export
# (8 hex digits): ".<name>.<8 chars>.partial". Nothing else in a landing folder is ever removed.
PARTIAL_RE = re.compile(r"\.[^/]+\.[a-z0-9_]{8}\.partial")


def _newest_mtime(path: Path, st: os.stat_result) -> float:
    """The newest mtime of a file, or of a folder and everything below it; symlinks are not followed."""
    newest = st.st_mtime
    if stat.S_ISDIR(st.st_mode):
        for root, dirs, files in os.walk(path, followlinks=False):
            for n in dirs + files:
                try:
                    newest = max(newest, os.lstat(os.path.join(root, n)).st_mtime)
                except OSError:
                    pass
    return newest


def remove_stale_partials(folder: Path, grace_seconds: float = PARTIAL_GRACE_SECONDS, logger=None,
                          now: float | None = None) -> list[str]:
    """Remove the temporary copies a killed pull left in `folder` (kill -9, power cut: the `finally`
    that removes them never ran), so they do not hold GBs forever. Only hidden `.partial` names of
    the two patterns above are candidates, only real files and folders (a symlink is left alone, and
    nothing is followed out of the folder), and only when nothing in them changed for
    `grace_seconds`: a copy still in progress keeps writing. Returns the names removed."""
    logger = logger or log
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no folder yet: nothing to clean
        return removed
    for e in entries:
        if not PARTIAL_RE.fullmatch(e.name):
            continue
        path = Path(e.path)
        try:
            st = os.lstat(path)
            if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
                continue
            age = now - _newest_mtime(path, st)
            if age < grace_seconds:
                continue
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
        except OSError as err:
            logger.warning("could not remove stale partial copy %s (%s)", e.name, type(err).__name__)
            continue
        logger.info("removed stale partial copy %s (%.1f h old)", e.name, age / 3600)
        removed.append(e.name)
    return removed


@contextmanager
def landing_folder(landing: Path, name: str, partial_grace: float = PARTIAL_GRACE_SECONDS):
    """Yield a temporary folder; on success rename it to landing/name, on failure remove it.
    Temporary folders of earlier, killed pulls older than `partial_grace` seconds are removed first."""
    landing = Path(landing)
    landing.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(landing, partial_grace)
    final = landing / name
    if final.exists():
        raise FileExistsError(f"{final} already landed")
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".partial", dir=landing))
    try:
        yield tmp
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_json_atomic(path: Path, doc: dict) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)


def resolve_secret(env_var: str, block: str | None = None) -> str:
    """A token from the environment, else from a Prefect Secret block; never printed or logged."""
    value = os.environ.get(env_var)
    if value:
        return value
    if block:
        from prefect.blocks.system import Secret

        return Secret.load(block).get()
    raise RuntimeError(f"no API token: set {env_var} or name a Prefect Secret block")
