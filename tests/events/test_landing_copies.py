"""How exports really arrive: a zip copied in chunks, and a folder copied by a tool that keeps the
source's modification times (`cp -a`, `rsync -a`), slowly, while other exports of the registry land."""
from __future__ import annotations

import os
import time
import zipfile

from tests.events.service import land
from tests.exports import write_export

DEADLINE = 60.0


def test_zip_copied_in_chunks_loads_once_when_complete(service, tmp_path):
    folder = write_export(tmp_path / "src", registry="reg-z", export_id="z1")
    bundle = tmp_path / "z1.zip"
    with zipfile.ZipFile(bundle, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, f"z1/{p.name}")
    data = bundle.read_bytes()
    dest = service.landing / "reg-z" / "z1.zip"
    dest.parent.mkdir(parents=True, exist_ok=True)
    step = max(1, len(data) // 4)
    with open(dest, "wb") as fh:
        for i in range(0, len(data), step):
            fh.write(data[i:i + step])
            fh.flush()
            time.sleep(1.5)  # a slow link: each pause is longer than settle_seconds
            if i == 0:  # proof the watcher ran during a pause: an export landing meanwhile loads
                witness = write_export(tmp_path / "witness", registry="reg-z2", export_id="w1")
                land(witness, service.landing / "reg-z2")
                service.wait_loaded("reg-z2", ["w1"], timeout=DEADLINE)
            if i + step < len(data):
                assert [r for r in service.loads() if r[0] == "reg-z"] == [], "a half-copied zip was read"
    rows = service.wait_loaded("reg-z", ["z1"], timeout=DEADLINE)
    time.sleep(3)
    rows = [r for r in service.loads() if r[0] == "reg-z"]
    assert [(r[1], r[2]) for r in rows] == [("z1", "loaded")], rows


def test_copy_keeping_old_mtimes_is_loaded_when_complete(service, tmp_path):
    old = time.time() - 3 * 86400
    slow = write_export(tmp_path / "src", registry="reg-m", export_id="m1", exported_at="2025-01-31T23:00:00Z")
    dest = service.landing / "reg-m" / "m1"
    dest.mkdir(parents=True)
    names = ["manifest.json"] + sorted(p.name for p in slow.iterdir() if p.name != "manifest.json")

    def copy(name):
        (dest / name).write_bytes((slow / name).read_bytes())
        os.utime(dest / name, (old, old))

    for n in names[:3]:
        copy(n)
    # meanwhile the registry's next export lands: its ingest looks at every pending export of reg-m
    nxt = write_export(tmp_path / "src", registry="reg-m", export_id="m2", exported_at="2025-02-28T23:00:00Z")
    land(nxt, service.landing / "reg-m")
    service.wait_loaded("reg-m", ["m2"], timeout=DEADLINE)
    assert [r for r in service.loads() if r[1] == "m1"] == [], "the half copy was handed to ingest"
    for n in names[3:]:
        copy(n)
    rows = service.wait_loaded("reg-m", ["m1"], timeout=DEADLINE)
    assert [r[2] for r in rows if r[1] == "m1"] == ["loaded"], service.loads()


def test_an_unreadable_zip_is_rejected_and_blocks_nothing(service, tmp_path):
    from tests.events.service import wait_for
    from tests.events.test_odd_zips import _odd_zip

    (service.landing / "reg-x").mkdir(parents=True, exist_ok=True)
    _odd_zip(write_export(tmp_path / "src", registry="reg-x", export_id="x1"), service.landing / "reg-x" / "x1.zip",
             "encrypted")
    fine = write_export(tmp_path / "src2", registry="reg-y", export_id="y1")
    land(fine, service.landing / "reg-y")
    assert [r[2] for r in service.wait_loaded("reg-y", ["y1"], timeout=DEADLINE)] == ["loaded"]
    rows = wait_for(lambda: [r for r in service.loads() if r[1] == "x1.zip"], DEADLINE, what="the zip's rejection")
    assert [r[2] for r in rows] == ["rejected"] and "encrypted" in rows[0][4], rows
