"""Pull: copy a registry's new exports from its source into the landing zone, atomically.

Sources (outcomes.toml `[registries.<id>].source`):
- a local folder (or file:// URL): the export folders in it that an adapter recognises (kor
  manifest.json, REDCap data.csv + dictionary, FHIR NDJSON or Bulk manifest) and .zip bundles;
  other folders are skipped and counted in the log;
- s3://bucket/prefix on any S3-compatible store (the same folders and bundles), through
  fsspec/s3fs (`source_options` are s3fs storage options, e.g. {endpoint_url =
  "http://127.0.0.1:9000"}; credentials from the usual AWS_* environment variables or ~/.aws);
- http(s)://... a listing: either JSON (a list of bundle URLs, or {"exports": [...]}) or an HTML page
  whose links ending in .zip are bundles.

Each export is copied to landing/<registry>/.<name>.<random>.partial and renamed to
landing/<registry>/<name> only once every file is there, so the watcher never sees half a copy.
An export already in the landing zone (same name) or already recorded in ops.loads is skipped.
A pull killed mid-copy leaves its .partial behind; the next pull removes it once nothing in it has
changed for `[service] partial_grace_seconds` (6 h).
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from prefect import flow, get_run_logger

from transforms.clients.landing import PARTIAL_GRACE_SECONDS, remove_stale_partials

SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
DETECT_READS = ("manifest.json", "export.json")  # the files the adapters' detection reads
DETECT_MAX_BYTES = 1 << 20
log = logging.getLogger(__name__)


@dataclass
class RemoteExport:
    name: str  # the folder or zip name in the landing zone
    kind: str  # folder | zip
    location: str  # fsspec path (folder or zip) or URL


def _fs(source: str, options: dict):
    import fsspec

    if source.lower().startswith("s3://"):
        fs = fsspec.filesystem("s3", **options)
        return fs, source[5:].rstrip("/")
    path = source[7:] if source.lower().startswith("file://") else source
    return fsspec.filesystem("file"), str(Path(path).expanduser().resolve())


def _is_export(path: Path) -> bool:
    """A folder some adapter recognises (transforms.adapters: kor, REDCap, FHIR), as `ingest` does."""
    from transforms import adapters

    name = adapters.detect(path)
    return name != "kor" or adapters.get("kor").detect(path)


def _is_export_folder(fs, location: str, local: bool) -> bool:
    """Whether a source folder is an export, by the adapters' own detection. A local folder is
    looked at in place; a remote one (S3) through a stand-in holding its top-level names as empty
    files and its small manifest.json / export.json (all the detection reads), so no data file is
    fetched."""
    if local:
        return _is_export(Path(location))
    with tempfile.TemporaryDirectory(prefix="pull-detect-") as tmp:
        for entry in fs.ls(location, detail=True):
            name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
            if not name or name in (".", "..") or "/" in name:
                continue
            target = Path(tmp) / name
            if entry["type"] == "directory":
                target.mkdir(exist_ok=True)
            elif name in DETECT_READS and (entry.get("size") or 0) <= DETECT_MAX_BYTES:
                fs.get_file(entry["name"], str(target))
            else:
                target.touch()
        return _is_export(Path(tmp))


def list_source(source: str, options: dict | None = None, logger=None) -> list[RemoteExport]:
    """Bundles available at a source, sorted by name: .zip files and the folders an adapter
    recognises as an export (kor manifest, REDCap data.csv + dictionary, FHIR NDJSON or Bulk
    manifest). Reads no data files. Other folders are skipped and counted in the log (by count:
    a folder's name may be a person's)."""
    options = options or {}
    if source.lower().startswith(("http://", "https://")):
        return _list_http(source, options)
    fs, root = _fs(source, options)
    local = not source.lower().startswith("s3://")
    out, skipped = [], 0
    for entry in fs.ls(root, detail=True):
        name = entry["name"].rstrip("/").rsplit("/", 1)[-1]
        if name.startswith("."):
            continue
        location = entry["name"].rstrip("/")
        if entry["type"] == "directory":
            if SAFE_NAME.match(name) and _is_export_folder(fs, location, local):
                out.append(RemoteExport(name, "folder", location))
            else:
                skipped += 1
        elif entry["type"] == "file" and name.lower().endswith(".zip") and SAFE_NAME.match(name):
            out.append(RemoteExport(name, "zip", entry["name"]))
    if skipped:
        (logger or log).info("skipped %d folder(s) in the source that no adapter recognises as an export "
                             "(kor, REDCap or FHIR) or whose name is not a plain name", skipped)
    return sorted(out, key=lambda r: r.name)


def _list_http(url: str, options: dict) -> list[RemoteExport]:
    import httpx

    r = httpx.get(url, timeout=options.get("timeout", 30), headers=options.get("headers"), follow_redirects=True)
    r.raise_for_status()
    try:
        data = r.json()
        links = data.get("exports", []) if isinstance(data, dict) else data
    except (json.JSONDecodeError, ValueError):
        links = re.findall(r'href=["\']([^"\']+\.zip)["\']', r.text, flags=re.I)
    out = []
    for link in links:
        if not isinstance(link, str):
            continue
        full = urljoin(str(r.url), link)  # relative to the listing as served (after redirects), as a browser does
        name = full.rstrip("/").rsplit("/", 1)[-1]
        if SAFE_NAME.match(name) and name.lower().endswith(".zip"):
            out.append(RemoteExport(name, "zip", full))
    return sorted(out, key=lambda r: r.name)


def _manifest_identity(fs, export: RemoteExport) -> tuple[str | None, str | None]:
    """(registry_id, export_id) of a remote folder export, from its kor manifest, else its
    export.json (REDCap, FHIR; a Bulk manifest names neither)."""
    for name in DETECT_READS:
        try:
            m = json.loads(fs.cat_file(f"{export.location}/{name}").decode("utf-8-sig"))
        except Exception:
            continue
        if isinstance(m, dict) and (m.get("registry_id") is not None or m.get("export_id") is not None):
            return m.get("registry_id"), m.get("export_id")
    return None, None


def copy_export(source: str, options: dict, export: RemoteExport, dest_dir: Path) -> Path:
    """Copy one export into dest_dir/<name> atomically: into a hidden .partial name, then rename."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    final = dest_dir / export.name
    tmp = dest_dir / f".{export.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        if export.kind == "zip" and export.location.lower().startswith(("http://", "https://")):
            import httpx

            with httpx.stream("GET", export.location, timeout=options.get("timeout", 300),
                              headers=options.get("headers"), follow_redirects=True) as r:
                r.raise_for_status()
                with open(tmp, "wb") as fh:
                    for chunk in r.iter_bytes(1 << 20):
                        fh.write(chunk)
        else:
            fs, _ = _fs(source, options)
            if export.kind == "zip":
                fs.get_file(export.location, str(tmp))
            else:
                tmp.mkdir()
                for remote in fs.find(export.location):
                    rel = remote[len(export.location.rstrip("/")) + 1:]
                    if not rel or ".." in rel.split("/"):
                        continue
                    target = tmp / rel
                    target.parent.mkdir(parents=True, exist_ok=True)
                    fs.get_file(remote, str(target))
                # the manifest last in mtime too, matching how registries are asked to write exports
                if (tmp / "manifest.json").exists():
                    os.utime(tmp / "manifest.json")
        if final.exists():  # someone else won the race: keep theirs
            raise FileExistsError(str(final))
        os.rename(tmp, final)
        return final
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def pull_new(registry_id: str, source: str, options: dict, landing: Path, known: set | None = None,
             partial_grace: float = PARTIAL_GRACE_SECONDS, logger=None) -> list[Path]:
    """Copy every export of the source not yet in landing/<registry> (nor recorded in ops.loads under
    the same export id, given as `known`) into the landing zone. Returns the new paths. First removes
    the .partial copies of killed pulls unchanged for `partial_grace` seconds."""
    dest_dir = landing / registry_id
    remove_stale_partials(dest_dir, partial_grace, logger)
    known = known or set()
    copied = []
    fs = None
    for export in list_source(source, options, logger):
        if (dest_dir / export.name).exists():
            continue
        if export.kind == "folder":
            if fs is None:
                fs, _ = _fs(source, options)
            reg, eid = _manifest_identity(fs, export)
            if reg is not None and reg != registry_id:
                continue  # not this registry's export: never copy it under its name
            if eid is not None and (registry_id, eid) in known:
                continue
        try:
            copied.append(copy_export(source, options, export, dest_dir))
        except FileExistsError:
            continue
    return copied


def _known_exports(warehouse: Path, registry_id: str) -> set:
    if not warehouse.exists():
        return set()
    from warehouse.connect import open_readonly

    con = open_readonly(warehouse)
    try:
        return {(registry_id, e) for (e,) in con.execute(
            "SELECT DISTINCT export_id FROM ops.loads WHERE registry_id = ? AND export_id IS NOT NULL",
            [registry_id]).fetchall()}
    finally:
        con.close()


@flow(name="pull-exports")
def pull_exports(registry_id: str) -> list[str]:
    """Copy the registry's new exports into the landing zone (the watcher takes it from there)."""
    from outcomes.config import load_config, warehouse_for

    logger = get_run_logger()
    cfg = load_config()
    reg = cfg.registry(registry_id)
    if not reg.source:
        logger.warning("registry %s has no source configured: nothing to pull", registry_id)
        return []
    landing = Path(cfg.landing_zone).resolve()
    copied = pull_new(registry_id, reg.source, reg.source_options, landing,
                      _known_exports(warehouse_for(cfg).resolve(), registry_id),
                      partial_grace=cfg.service.partial_grace_seconds, logger=logger)
    logger.info("pulled %d new export(s) of %s from %s", len(copied), registry_id, reg.source_kind)
    return [str(p) for p in copied]
