"""Pull from an HTTP source: a JSON or HTML listing of .zip bundles, served on loopback by a real
HTTP server; bundles are copied atomically, skipped once there, and open as valid exports."""
from __future__ import annotations

import json
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.exports import write_export


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass


@pytest.fixture()
def http_root(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _zip(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(folder.iterdir()):
            zf.write(p, p.name)
    return dest


def test_json_listing_pulls_each_bundle_once(http_root, tmp_path):
    from flows.pull import list_source, pull_new
    from transforms.bundle import open_bundle

    root, url = http_root
    for i, when in ((1, "2025-01-31T23:00:00Z"), (2, "2025-02-28T23:00:00Z")):
        _zip(write_export(tmp_path / "src", registry="reg-h", export_id=f"h{i}", exported_at=when),
             root / f"h{i}.zip")
    (root / "notes.txt").write_text("not a bundle")
    (root / "index.json").write_text(json.dumps({"exports": ["h2.zip", "h1.zip", "notes.txt", 7]}))

    listed = list_source(f"{url}/index.json")
    assert [(e.name, e.kind, e.location) for e in listed] == [
        ("h1.zip", "zip", f"{url}/h1.zip"), ("h2.zip", "zip", f"{url}/h2.zip")]

    landing = tmp_path / "landing"
    got = pull_new("reg-h", f"{url}/index.json", {}, landing)
    assert [p.name for p in got] == ["h1.zip", "h2.zip"]
    for p in got:
        assert p.read_bytes() == (root / p.name).read_bytes()
        bundle = open_bundle(p)  # a complete, valid export: checksums verified
        assert bundle.registry_id == "reg-h" and bundle.export_id == p.stem
    assert not [p for p in (landing / "reg-h").iterdir() if p.name.startswith(".")], "no temporary copy left"
    assert pull_new("reg-h", f"{url}/index.json", {}, landing) == []  # already there


def test_html_listing_and_plain_list(http_root, tmp_path):
    from flows.pull import list_source, pull_new

    root, url = http_root
    _zip(write_export(tmp_path / "src", registry="reg-w", export_id="w1"), root / "w1.zip")
    (root / "page.html").write_text('<html><body><a href="w1.zip">w1</a> <a href="readme.html">about</a>'
                                    "<a href='missing.zip'>gone</a></body></html>")
    (root / "list.json").write_text(json.dumps(["w1.zip"]))
    assert [e.name for e in list_source(f"{url}/page.html")] == ["missing.zip", "w1.zip"]
    assert [e.name for e in list_source(f"{url}/list.json")] == ["w1.zip"]
    landing = tmp_path / "landing"
    # a listed bundle that is not there (404) fails the pull loudly and leaves no partial file
    with pytest.raises(Exception, match="404"):
        pull_new("reg-w", f"{url}/page.html", {}, landing)
    assert not [p for p in (landing / "reg-w").glob("*") if p.name != "w1.zip"]


def test_directory_listing_without_trailing_slash(http_root, tmp_path):
    """A server's own directory index: /exports redirects to /exports/, links resolve against that."""
    from flows.pull import pull_new

    root, url = http_root
    (root / "exports").mkdir()
    _zip(write_export(tmp_path / "src", registry="reg-d", export_id="d1"), root / "exports" / "d1.zip")
    got = pull_new("reg-d", f"{url}/exports", {}, tmp_path / "landing")
    assert [p.name for p in got] == ["d1.zip"]
    assert got[0].read_bytes() == (root / "exports" / "d1.zip").read_bytes()
