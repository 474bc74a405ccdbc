"""Exports copied with their original modification times (`cp -a`, `rsync -a`, `unzip`, most sync
tools) are as new to the landing zone as any other: a copy in progress is not "stale", and an
attempt that met it half-copied does not count as recording the completed copy."""
from __future__ import annotations

import os
import time

from tests.exports import write_export

OLD = time.time() - 3 * 86400  # the registry wrote the files three days ago


def _copy_preserving_mtime(src, dest, names):
    dest.mkdir(parents=True, exist_ok=True)
    for n in names:
        (dest / n).write_bytes((src / n).read_bytes())
        os.utime(dest / n, (OLD, OLD))


def test_half_copied_export_with_old_mtimes_is_not_pending(tmp_path):
    from flows.watch import pending

    src = write_export(tmp_path / "src", registry="r", export_id="e1")
    dest = tmp_path / "landing" / "r" / "e1"
    _copy_preserving_mtime(src, dest, ["manifest.json", "sessions.csv"])  # the copy is under way
    assert pending(tmp_path / "landing", tmp_path / "none.duckdb", "r", stale_seconds=600) == []


def test_attempt_on_half_copy_does_not_record_the_completed_copy(tmp_path):
    from flows.watch import identify, recorded

    src = write_export(tmp_path / "src", registry="r", export_id="e1")
    dest = tmp_path / "landing" / "r" / "e1"
    _copy_preserving_mtime(src, dest, ["manifest.json", "sessions.csv"])
    # an attempt read the half copy just now and was rejected (file missing: no manifest hash recorded)
    ledger = ({("r", "e1", None)}, {str(dest): time.time()})
    assert recorded(tmp_path / "none.duckdb", [identify(dest)], ledger) == {dest}
    time.sleep(0.05)
    _copy_preserving_mtime(src, dest, [p.name for p in src.iterdir()])  # the copy completes later
    assert recorded(tmp_path / "none.duckdb", [identify(dest)], ledger) == set()
