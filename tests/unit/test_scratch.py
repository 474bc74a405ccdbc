"""Temporary folders of killed processes are removed by the next process, those of live ones stay."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

from outcomes import scratch


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_orphans_of_dead_processes_go_and_the_rest_stays(tmp_path):
    parent = tmp_path / "runner_storage"
    mine = scratch.make("oc-x-", parent)
    assert mine.parent == parent and mine.name.startswith(f"oc-x-{os.getpid()}-")
    dead = parent / f"oc-x-{_dead_pid()}-abc"
    (dead / "sub").mkdir(parents=True)
    (dead / "sub" / "f").write_text("x")
    live = parent / f"oc-x-{os.getppid()}-def"  # pytest's parent: alive
    live.mkdir()
    unnamed = parent / "oc-x-olderformat"  # no process id: not ours to judge
    unnamed.mkdir()
    other_prefix = parent / f"oc-y-{_dead_pid()}-ghi"
    other_prefix.mkdir()
    again = scratch.make("oc-x-", parent)  # making one removes the orphans of its prefix
    assert sorted(p.name for p in parent.iterdir()) == sorted([mine.name, again.name, live.name, unnamed.name,
                                                                other_prefix.name])
    assert scratch.remove_orphans("oc-y-", parent) == [other_prefix.name]
    assert scratch.remove_orphans("oc-x-", tmp_path / "absent") == []


def test_an_unzipped_export_of_a_killed_ingest_goes_with_the_next_zip(monkeypatch, tmp_path):
    """A zipped export is unpacked to the temporary folder; killed mid-ingest, that copy (as large
    as the export) stayed."""
    import zipfile

    from exports import write_export
    from transforms.bundle import ZIP_PREFIX, open_bundle

    folder = write_export(tmp_path / "x")
    z = tmp_path / "e.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for p in folder.iterdir():
            zf.write(p, f"export/{p.name}")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    (tmp / f"{ZIP_PREFIX}{_dead_pid()}-abc" / "export").mkdir(parents=True)
    b = open_bundle(z)
    assert [p.name.startswith(f"{ZIP_PREFIX}{os.getpid()}-") for p in tmp.iterdir()] == [True]
    b.close()
    assert list(tmp.iterdir()) == []


def test_the_worker_warm_up_leaves_nothing_and_removes_a_killed_one(monkeypatch, tmp_path):
    """A service killed while warming up its ingest worker left the warm-up registry behind."""
    from flows.worker import WARMUP_PREFIX, warm_up

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    stale = tmp_path / f"{WARMUP_PREFIX}{_dead_pid()}-abc"
    (stale / "exports").mkdir(parents=True)
    assert warm_up() > 0
    assert list(tmp_path.iterdir()) == []
