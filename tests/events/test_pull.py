"""Pull: new exports copied from a local folder and from an S3-compatible server (moto, loopback)
into the landing zone by the served pull deployments, then loaded. Plus the per-registry cron."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.events.conftest import Service, free_port, wait_for
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
    svc = Service(root, prefect_server, registries=regs, env=CREDS).start()
    try:
        svc.wait_loaded("reg-local", ["l1"], timeout=90)
        svc.wait_loaded("reg-s3", ["s1"], timeout=60)
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
