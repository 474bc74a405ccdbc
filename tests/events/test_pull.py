"""Pull: new exports copied from a local folder and from an S3-compatible server (moto, loopback)
into the landing zone by the served pull deployments, then loaded. Plus the per-registry cron."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.events.service import Service, free_port, wait_for
from tests.exports import write_export

CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="module")
def s3_endpoint():
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    os.environ.update(CREDS)
    import boto3

    boto3.client("s3", endpoint_url=url, region_name="us-east-1").create_bucket(Bucket="exports")
    yield url
    server.stop()


def upload(endpoint: str, folder: Path, prefix: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    # data files first, manifest last, as registries are asked to upload
    for f in sorted(folder.iterdir(), key=lambda p: p.name == "manifest.json"):
        s3.upload_file(str(f), "exports", f"{prefix}/{folder.name}/{f.name}")


def test_pull_new_copies_from_s3_atomically(s3_endpoint, tmp_path):
    from flows.pull import list_source, pull_new

    src = write_export(tmp_path / "src", registry="reg-u", export_id="u1")
    upload(s3_endpoint, src, "reg-u")
    opts = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    assert [e.name for e in list_source("s3://exports/reg-u", opts)] == ["u1"]
    landing = tmp_path / "landing"
    got = pull_new("reg-u", "s3://exports/reg-u", opts, landing)
    assert got == [landing / "reg-u" / "u1"]
    assert sorted(p.name for p in got[0].iterdir()) == sorted(p.name for p in src.iterdir())
    assert (got[0] / "sessions.csv").read_bytes() == (src / "sessions.csv").read_bytes()
    assert not [p for p in (landing / "reg-u").iterdir() if p.name.startswith(".")]
    assert pull_new("reg-u", "s3://exports/reg-u", opts, landing) == []  # already there


def test_pull_skips_exports_of_another_registry(tmp_path):
    from flows.pull import pull_new

    write_export(tmp_path / "src", registry="someone-else", export_id="x1")
    assert pull_new("reg-v", str(tmp_path / "src"), {}, tmp_path / "landing") == []


def age(path: Path, hours: float) -> None:
    """Set the mtime of path and of everything below it `hours` in the past (children first: writing
    a child changes its folder's mtime)."""
    when = time.time() - hours * 3600
    if path.is_dir() and not path.is_symlink():
        for f in sorted(path.rglob("*"), key=lambda q: -len(q.parts)):
            os.utime(f, (when, when), follow_symlinks=False)
    os.utime(path, (when, when), follow_symlinks=False)


def test_pull_removes_stale_partial_copies_of_killed_pulls_only(tmp_path):
    """A pull killed mid-copy (kill -9) leaves landing/<registry>/.<name>.<8>.partial; the next pull
    removes it once unchanged for the grace period, and touches nothing else."""
    from flows.pull import pull_new

    write_export(tmp_path / "src", registry="reg-p", export_id="p2")
    dest = tmp_path / "landing" / "reg-p"
    dest.mkdir(parents=True)
    (dest / ".p0.zip.1a2b3c4d.partial").write_bytes(b"PK half a zip")  # copy_export, zip
    age(dest / ".p0.zip.1a2b3c4d.partial", 7)
    write_export(dest, registry="reg-p", export_id=".p1.a1b2c3d4.partial")  # copy_export, folder
    age(dest / ".p1.a1b2c3d4.partial", 7)
    write_export(dest, registry="reg-p", export_id=".p1.k_9xq2za.partial")  # landing_folder (mkdtemp)
    age(dest / ".p1.k_9xq2za.partial", 30)
    # still being written: an old folder with one file written just now, and a fresh zip
    write_export(dest, registry="reg-p", export_id=".p3.0badf00d.partial")
    age(dest / ".p3.0badf00d.partial", 7)
    (dest / ".p3.0badf00d.partial" / "late.csv").write_text("a\n")
    (dest / ".p4.zip.deadbeef.partial").write_bytes(b"PK")
    # not a pull's partial: a user's hidden copy, other temporary names, a landed export, a symlink
    # with a partial's name pointing out of the landing zone
    outside = write_export(tmp_path / "elsewhere", registry="reg-p", export_id="keep-me")
    (dest / ".p5.cafef00d.partial").symlink_to(outside, target_is_directory=True)
    write_export(dest, registry="reg-p", export_id=".copying")
    (dest / ".notes").write_text("x")
    (dest / ".p6.zip.tmp").write_text("x")
    (dest / "visible.0badf00d.partial").write_text("x")
    write_export(dest, registry="reg-p", export_id="p0")
    for p in [*dest.iterdir(), outside]:
        age(p, 7)
    age(dest / ".p3.0badf00d.partial" / "late.csv", 0)
    age(dest / ".p4.zip.deadbeef.partial", 0)

    lines = []

    class Log:  # the flow passes its run logger
        def info(self, msg, *args):
            lines.append(msg % args)

        warning = info

    got = pull_new("reg-p", str(tmp_path / "src"), {}, tmp_path / "landing", logger=Log())
    assert got == [dest / "p2"]
    assert sorted(p.name for p in dest.iterdir()) == sorted([
        ".p3.0badf00d.partial", ".p4.zip.deadbeef.partial", ".p5.cafef00d.partial", ".copying", ".notes",
        ".p6.zip.tmp", "visible.0badf00d.partial", "p0", "p2"])
    assert (outside / "manifest.json").exists() and (dest / ".p5.cafef00d.partial").is_symlink()
    assert sorted(lines) == ["removed stale partial copy .p0.zip.1a2b3c4d.partial (7.0 h old)",
                             "removed stale partial copy .p1.a1b2c3d4.partial (7.0 h old)",
                             "removed stale partial copy .p1.k_9xq2za.partial (7.0 h old)"]
    # a shorter grace period (outcomes.toml [service] partial_grace_seconds) takes the 0-hour-old zip too
    pull_new("reg-p", str(tmp_path / "src"), {}, tmp_path / "landing", partial_grace=0)
    assert not (dest / ".p4.zip.deadbeef.partial").exists() and not (dest / ".p3.0badf00d.partial").exists()
    assert (dest / ".p5.cafef00d.partial").is_symlink() and (dest / ".copying" / "manifest.json").exists()


def test_partial_grace_is_a_service_setting():
    from outcomes.config import ConfigError, parse_config

    assert parse_config({}).service.partial_grace_seconds == 6 * 3600
    assert parse_config({"service": {"partial_grace_seconds": 3600}}).service.partial_grace_seconds == 3600
    with pytest.raises(ConfigError, match="partial_grace_seconds"):  # would take copies in progress
        parse_config({"service": {"partial_grace_seconds": 5}})


def stored_results() -> set[Path]:
    """Files in Prefect's local result storage ($PREFECT_HOME/storage, shared by the services)."""
    from prefect.settings import get_current_settings

    root = Path(get_current_settings().results.local_storage_path)
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def ingest_runs(api: str, name: str) -> list[dict]:
    """Runs of the deployments that hand ingests to the warm worker and wait for the result."""
    import httpx

    ids = [httpx.get(f"{api}/deployments/name/{d}/{name}", timeout=10).json()["id"]
           for d in ("ingest-landed-export", "sweep-landing-zone")]
    r = httpx.post(f"{api}/flow_runs/filter", json={"flow_runs": {"deployment_id": {"any_": ids}}}, timeout=10)
    r.raise_for_status()
    return [run for run in r.json() if run["state_type"] != "SCHEDULED"]


def test_served_pull_flows_fetch_from_folder_and_s3_then_load(prefect_server, s3_endpoint, tmp_path):
    folder = tmp_path / "registry-folder"
    folder.mkdir()
    regs = f'''
[registries.reg-local]
source = "{folder}"
pull_interval = 30
timezone = "Europe/Oslo"

[registries.reg-s3]
source = "s3://exports/reg-s3"
pull_interval = 30
source_options = {{ endpoint_url = "{s3_endpoint}", key = "testing", secret = "testing" }}
'''
    root = tmp_path / "svc"
    root.mkdir()
    # the exports wait at the sources; the pulls run when the service starts, then every 30 s
    write_export(folder, registry="reg-local", export_id="l1")
    upload(s3_endpoint, write_export(tmp_path / "s3src", registry="reg-s3", export_id="s1"), "reg-s3")
    stored_before = stored_results()
    svc = Service(root, prefect_server, registries=regs, env=CREDS).start()
    try:
        svc.wait_loaded("reg-local", ["l1"], timeout=90)
        svc.wait_loaded("reg-s3", ["s1"], timeout=60)
        # the ingests ran in the warm worker: Prefect's result storage keeps no file of them
        wait_for(lambda: stored_results() <= stored_before, 15, what="the worker's result files to go")
        # ... and the runs that waited for them still read their results
        wait_for(lambda: ingest_runs(prefect_server, svc.name) and not [
            r for r in ingest_runs(prefect_server, svc.name) if r["state_type"] in ("PENDING", "RUNNING")],
            30, what="the ingesting flow runs to finish")
        assert {r["state_type"] for r in ingest_runs(prefect_server, svc.name)} == {"COMPLETED"}
        assert (svc.landing / "reg-local" / "l1" / "manifest.json").exists()
        assert (svc.landing / "reg-s3" / "s1" / "manifest.json").exists()
        assert all(r[2] == "loaded" for r in svc.loads())

        import httpx

        d = httpx.get(f"{prefect_server}/deployments/name/monthly-report/{svc.name}-reg-local", timeout=10).json()
        s = d["schedules"][0]["schedule"]
        assert (s["cron"], s["timezone"]) == ("0 6 1 * *", "Europe/Oslo")
        assert d["parameters"] == {"registry_id": "reg-local"}
    finally:
        svc.stop()


def _source_of_every_format(src: Path) -> Path:
    """A source holding a kor export, a REDCap export folder, a FHIR folder without a Bulk manifest,
    and two folders that are no export (one named like a person: never to be logged)."""
    write_export(src, registry="reg-w", export_id="k1")
    (src / "rc1").mkdir()
    (src / "rc1" / "data.csv").write_text("record_id,x\n1,2\n")
    (src / "rc1" / "dictionary.csv").write_text("Variable / Field Name,Form Name\nrecord_id,f\n")
    (src / "rc1" / "export.json").write_text('{"registry_id": "reg-w", "export_id": "rc1"}')
    (src / "fh1").mkdir()
    (src / "fh1" / "Patient.000.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
    (src / "jane-doe").mkdir()
    (src / "jane-doe" / "notes.txt").write_text("x")
    (src / "empty").mkdir()
    return src


def test_pull_takes_every_folder_an_adapter_recognises_and_logs_the_others(tmp_path, caplog):
    # Only folders holding manifest.json were listed: a REDCap export, or a FHIR folder without a
    # Bulk manifest, dropped in a source was never pulled, and nothing said so.
    import logging

    from flows.pull import list_source, pull_new

    src = _source_of_every_format(tmp_path / "src")
    logger = logging.getLogger("test-pull")
    with caplog.at_level(logging.INFO, logger="test-pull"):
        assert [(e.name, e.kind) for e in list_source(str(src), logger=logger)] == \
            [("fh1", "folder"), ("k1", "folder"), ("rc1", "folder")]
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "2 folder(s)" in said and "jane-doe" not in said
    got = pull_new("reg-w", str(src), {}, tmp_path / "landing")
    assert sorted(p.name for p in got) == ["fh1", "k1", "rc1"]
    assert (tmp_path / "landing" / "reg-w" / "rc1" / "data.csv").read_text() == "record_id,x\n1,2\n"
    # a REDCap folder's export.json names its registry, as a manifest does
    assert pull_new("reg-other", str(src), {}, tmp_path / "landing2") == \
        [tmp_path / "landing2" / "reg-other" / "fh1"]


def test_pull_recognises_redcap_and_fhir_folders_on_s3(s3_endpoint, tmp_path):
    from flows.pull import list_source

    src = _source_of_every_format(tmp_path / "src")
    for folder in src.iterdir():
        upload(s3_endpoint, folder, "reg-w")
    opts = {"endpoint_url": s3_endpoint, "key": "testing", "secret": "testing"}
    assert [(e.name, e.kind) for e in list_source("s3://exports/reg-w", opts)] == \
        [("fh1", "folder"), ("k1", "folder"), ("rc1", "folder")]
