"""The API clients against local servers on 127.0.0.1 that implement the REDCap API's record and
metadata export and the FHIR Bulk Data async pattern."""
from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from transforms.clients import fhir_bulk, redcap_api
from transforms.clients.landing import landing_folder

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "real"  # ../shared beside the repo
if not REAL.is_dir():
    REAL = Path("/work/shared/data/real")
TOKEN = "S3CRET-TOKEN-0123456789"


class Server:
    def __init__(self, handler):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.calls = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class RedcapHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep test output (and the token) quiet
        pass

    def do_POST(self):
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode()).items()}
        self.server.calls.append(form)
        if form.get("token") != TOKEN:
            self.send_response(403)
            self.end_headers()
            return
        src = REAL / "redcap-exports" / "vignette-repeating"
        body = (src / ("data.csv" if form["content"] == "record" else "dictionary.csv")).read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.end_headers()
        self.wfile.write(body)


def test_redcap_pull_lands_an_export_the_adapter_reads(tmp_path, monkeypatch):
    if not REAL.is_dir():
        pytest.skip("shared data not available")
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[[source]]\ntable = "patients"\nform = "intake"\n[source.columns]\n'
                       'patient_id = "{record}"\nenrolled_on = { value = "2024-01-01" }\n')
    with Server(RedcapHandler) as srv:
        folder = redcap_api.pull(srv.url + "/api/", tmp_path / "landing", "vignette", mapping=mapping)
        calls = srv.httpd.calls
    assert [c["content"] for c in calls] == ["record", "metadata"]
    assert calls[0]["rawOrLabel"] == "raw" and calls[0]["type"] == "flat"
    assert sorted(p.name for p in folder.iterdir()) == ["data.csv", "dictionary.csv", "export.json", "mapping.toml"]
    assert not [p for p in (tmp_path / "landing").iterdir() if p.name.startswith(".")]
    from transforms import adapters

    assert adapters.detect(folder) == "redcap"
    b = adapters.get("redcap").open(folder)
    assert b.registry_id == "vignette"
    assert all(TOKEN not in p.read_text() for p in folder.iterdir())


def test_redcap_bad_token_lands_nothing_and_does_not_echo_it(tmp_path):
    with Server(RedcapHandler) as srv:
        with pytest.raises(redcap_api.RedcapApiError) as e:
            redcap_api.pull(srv.url, tmp_path / "landing", "x", token="wrong-token-value")
    assert "wrong-token-value" not in str(e.value)
    assert list((tmp_path / "landing").iterdir()) == []


def make_bulk_handler(resources: dict[str, list[dict]], polls_before_done: int = 2,
                      deleted: list[dict] | None = None, since: bool = False):
    """deleted: Bundles the manifest's `deleted` array lists (one file, served as /files/del.ndjson);
    since: the manifest's request names a _since, as a server answering an incremental pull does."""
    state = {"polls": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _json(self, code, doc, headers=None):
            body = json.dumps(doc).encode()
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            u = urlparse(self.path)
            self.server.calls.append((u.path, parse_qs(u.query), self.headers.get("Authorization")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._json(401, {"resourceType": "OperationOutcome"})
            base = f"http://127.0.0.1:{self.server.server_port}"
            if u.path.endswith("/$export"):
                assert self.headers.get("Prefer") == "respond-async"
                self.send_response(202)
                self.send_header("Content-Location", base + "/status/1")
                self.end_headers()
                return
            if u.path == "/status/1":
                state["polls"] += 1
                if state["polls"] <= polls_before_done:
                    return self._json(202, {}, {"Retry-After": "7", "X-Progress": "working"})
                manifest = {"transactionTime": "2026-02-01T10:00:00Z",
                            "request": base + "/fhir/$export" + ("?_since=2026-01-01T00:00:00Z" if since else ""),
                            "requiresAccessToken": True, "error": [],
                            "output": [{"type": t, "url": f"{base}/files/{t}.ndjson"} for t in resources]}
                if deleted is not None:
                    manifest["deleted"] = [{"type": "Bundle", "url": f"{base}/files/del.ndjson"}]
                return self._json(200, manifest)
            if u.path.startswith("/files/"):
                t = u.path.rsplit("/", 1)[1].split(".")[0]
                body = "".join(json.dumps(r) + "\n" for r in (deleted if t == "del" else resources[t])).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/fhir+ndjson")
                self.end_headers()
                self.wfile.write(body)
                return
            self._json(404, {})
    return Handler


PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1980-03-04",
           "name": [{"family": "Doe"}]}


def test_bulk_pull_polls_with_retry_after_and_keeps_since(tmp_path):
    slept = []
    state = tmp_path / "state.json"
    with Server(make_bulk_handler({"Patient": [PATIENT]})) as srv:
        folder = fhir_bulk.pull(srv.url + "/fhir", tmp_path / "landing", "ehr", types=["Patient", "Observation"],
                                state_file=state, token=TOKEN, sleep=slept.append)
        first_kick = srv.httpd.calls[0]
    assert slept == [7.0, 7.0]
    assert first_kick[1]["_type"] == ["Patient,Observation"] and "_since" not in first_kick[1]
    assert json.loads(state.read_text()) == {"transactionTime": "2026-02-01T10:00:00Z"}
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["output"][0]["url"] == "Patient.output.000.ndjson"
    from transforms import adapters

    b = adapters.get("fhir").open(folder)
    assert b.registry_id == "ehr" and b.exported_at.isoformat() == "2026-02-01T10:00:00+00:00"
    # the next pull asks only for what changed since
    with Server(make_bulk_handler({"Patient": [PATIENT]}, polls_before_done=0)) as srv:
        with pytest.raises(FileExistsError):  # same transactionTime: this server says nothing is newer
            fhir_bulk.pull(srv.url + "/fhir", tmp_path / "landing", "ehr", state_file=state, token=TOKEN,
                           sleep=slept.append)
        assert srv.httpd.calls[0][1]["_since"] == ["2026-02-01T10:00:00Z"]


def test_bulk_pull_downloads_the_deleted_files_with_the_token_and_lists_them(tmp_path):
    # An incremental pull's manifest lists what was deleted since _since (Bulk Data IG v2 `deleted`);
    # the files are fetched like the output (same token), landed with it, and listed in the saved
    # manifest by their local names, so the adapter can withdraw those records.
    gone = {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"request": {"method": "DELETE", "url": "AdverseEvent/ae-9"}}]}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"transactionTime": "2026-01-01T00:00:00Z"}))
    with Server(make_bulk_handler({"Patient": [PATIENT]}, polls_before_done=0, deleted=[gone], since=True)) as srv:
        folder = fhir_bulk.pull(srv.url + "/fhir", tmp_path / "landing", "ehr", token=TOKEN, state_file=state,
                                sleep=lambda s: None)
        calls = srv.httpd.calls
    assert calls[0][1]["_since"] == ["2026-01-01T00:00:00Z"]
    assert ("/files/del.ndjson", {}, f"Bearer {TOKEN}") in calls
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["deleted"] == [{"type": "Bundle", "url": "Bundle.deleted.000.ndjson"}]
    assert [json.loads(line) for line in (folder / "Bundle.deleted.000.ndjson").read_text().splitlines()] == [gone]
    assert not [p for p in (tmp_path / "landing").iterdir() if p.name.startswith(".")]
    from transforms import adapters

    b = adapters.get("fhir").open(folder)
    assert b.mode == "incremental" and [p.name for p in b.fhir_deleted] == ["Bundle.deleted.000.ndjson"]


def test_bulk_pull_whose_deleted_file_fails_lands_nothing(tmp_path):
    class Handler(make_bulk_handler({"Patient": [PATIENT]}, polls_before_done=0, deleted=[])):
        def do_GET(self):
            if self.path.startswith("/files/del"):
                return self._json(500, {})
            return super().do_GET()

    with Server(Handler) as srv:
        with pytest.raises(fhir_bulk.BulkExportError, match="Bundle file 0 answered 500"):
            fhir_bulk.pull(srv.url, tmp_path / "landing", "ehr", token=TOKEN, sleep=lambda s: None)
    assert not (tmp_path / "landing").exists() or list((tmp_path / "landing").iterdir()) == []


def test_bulk_gives_up_after_max_wait_and_lands_nothing(tmp_path):
    with Server(make_bulk_handler({"Patient": [PATIENT]}, polls_before_done=100)) as srv:
        with pytest.raises(fhir_bulk.BulkExportError, match="not complete"):
            fhir_bulk.pull(srv.url, tmp_path / "landing", "ehr", token=TOKEN, max_wait=20, sleep=lambda s: None)
    assert not (tmp_path / "landing").exists() or list((tmp_path / "landing").iterdir()) == []


def test_retry_after_http_date():
    assert fhir_bulk.retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 5.0) == 0.0
    assert fhir_bulk.retry_after(None, 5.0) == 5.0
    assert fhir_bulk.retry_after("120", 5.0) == 120.0


def _age(path: Path, hours: float) -> None:
    when = time.time() - hours * 3600
    for f in sorted(path.rglob("*"), key=lambda q: -len(q.parts)) if path.is_dir() else []:
        os.utime(f, (when, when))
    os.utime(path, (when, when))


def test_a_pull_removes_the_stale_partial_folders_of_killed_pulls(tmp_path):
    """A client pull killed mid-download leaves landing/.<export>.<8>.partial (landing_folder's
    mkdtemp); the next pull removes it after the grace period, a folder still being written stays."""
    landing = tmp_path / "landing"
    stale = landing / ".fhir-2026-01-01T10-00-00Z.x8_k2qaz.partial"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "Patient.output.000.ndjson").write_text("{}\n")
    (landing / ".redcap-old.1f2e3d4c.partial").write_text("a zip copy")
    fresh = landing / ".fhir-2026-01-15T10-00-00Z.abcd1234.partial"
    fresh.mkdir()
    (fresh / "Patient.output.000.ndjson").write_text("{}\n")
    (landing / ".kept-by-user").write_text("x")
    (landing / "fhir-2025-12-01").mkdir()
    for p in landing.iterdir():
        _age(p, 8)
    os.utime(fresh / "Patient.output.000.ndjson")  # written to just now
    with Server(make_bulk_handler({"Patient": [PATIENT]}, polls_before_done=0)) as srv:
        folder = fhir_bulk.pull(srv.url, landing, "ehr", token=TOKEN, sleep=lambda s: None)
    assert sorted(p.name for p in landing.iterdir()) == sorted(
        [fresh.name, ".kept-by-user", "fhir-2025-12-01", folder.name])
    with landing_folder(landing, "later", partial_grace=0) as tmp:  # grace 0: any partial is stale
        (tmp / "x").write_text("x")
    assert not fresh.exists() and (landing / "later" / "x").exists() and (landing / ".kept-by-user").exists()
