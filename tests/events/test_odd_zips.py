"""A zip the zipfile module cannot read (encrypted, or a compression method it does not support,
such as Deflate64 from Windows Explorer) is one broken export: it is handed to ingest (to be
rejected, so the registry hears), and it does not stop the watcher, the sweep or the ingest of
any other export."""
from __future__ import annotations

import struct
import zipfile

import pytest

from tests.exports import write_export


def _odd_zip(folder, path, kind: str) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"{folder.name}/{p.name}")
    b = bytearray(path.read_bytes())
    for sig, flags_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        i = 0
        while (i := b.find(sig, i)) >= 0:
            if kind == "encrypted":
                b[i + flags_at:i + flags_at + 2] = struct.pack("<H", struct.unpack("<H", b[i + flags_at:i + flags_at + 2])[0] | 1)
            else:  # Deflate64
                b[i + method_at:i + method_at + 2] = struct.pack("<H", 9)
            i += 4
    path.write_bytes(bytes(b))


@pytest.fixture
def landing(tmp_path):
    root = tmp_path / "landing"
    (root / "r").mkdir(parents=True)
    for kind in ("encrypted", "deflate64"):
        _odd_zip(write_export(tmp_path / "src" / kind, registry="r", export_id="e1"), root / "r" / f"{kind}.zip", kind)
    write_export(root / "q", registry="q", export_id="fine")
    return root


def test_pending_survives_unreadable_zips(landing, tmp_path):
    from flows.watch import BROKEN, pending

    assert [c.export_id for c in pending(landing, tmp_path / "none.duckdb", "q")] == ["fine"]
    odd = pending(landing, tmp_path / "none.duckdb", "unknown")
    assert sorted((c.path.name, c.state) for c in odd) == [("deflate64.zip", BROKEN), ("encrypted.zip", BROKEN)]
    assert all(c.reason for c in odd)


def test_watcher_scan_survives_unreadable_zips(landing):
    from flows.watch import BROKEN, READY, Tracker

    t = Tracker(settle_seconds=1.0, stale_seconds=100)
    assert t.scan(landing, now=0, is_recorded=lambda checks: set()) == []
    got = t.scan(landing, now=2, is_recorded=lambda checks: set())
    assert sorted((c.path.name, c.state) for c in got) == [
        ("deflate64.zip", BROKEN), ("encrypted.zip", BROKEN), ("fine", READY)]


def test_pending_survives_a_manifest_path_with_a_nul_byte(tmp_path):
    import json

    from flows.watch import BROKEN, pending

    root = tmp_path / "landing"
    bad = write_export(root / "r", registry="r", export_id="nul")
    m = json.loads((bad / "manifest.json").read_text())
    m["files"][0]["path"] = "a\u0000b.csv"
    (bad / "manifest.json").write_text(json.dumps(m))
    write_export(root / "q", registry="q", export_id="fine")
    assert [c.export_id for c in pending(root, tmp_path / "none.duckdb", "q")] == ["fine"]
    assert [(c.export_id, c.state) for c in pending(root, tmp_path / "none.duckdb", "r")] == [("nul", BROKEN)]
