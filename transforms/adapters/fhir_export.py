"""What one FHIR Bulk Data export is, and how it is opened into a Bundle.

An export is a folder holding the NDJSON files of one `$export` run and, when the client saved it,
the completion manifest (manifest.json: transactionTime, output[{type, url}], error[]). The
manifest's transactionTime is the export's exported_at; without a manifest, the transactionTime
the server logged in log.ndjson (status_complete / manifest_complete) is used, then the newest
file's modification time. Output URLs are matched to local files by their last path segment, and
a listed file that is missing rejects the export (a partial download must not look complete).
The manifest's `deleted` files (Bulk Data IG v2: Bundles naming the resources deleted since
`_since`) are matched the same way, a missing one rejects the export too, and they count in the
content hash: the adapter withdraws what they name (fhir_deleted.py).

Bulk exports carry no registry id, so it comes from the `registry_id` option or export.json
(which the Bulk Data client writes beside the manifest). Mode is incremental when the export was
requested with `_since` (export.json "since", else the kick-off URL in the manifest's `request` or
in log.ndjson's kickoff event), full otherwise.
"""
from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs, urlparse

from transforms.bundle import CONTRACT as KOR_CONTRACT
from transforms.bundle import EXPORT_ID_RE, REGISTRY_RE, Bundle, BundleError, ExportFile, sha256_of

MANIFEST = "manifest.json"
LOG = "log.ndjson"
EXPORT_JSON = "export.json"
CONTRACT = "fhir-bulk-r4"
TABLE_SOURCES = {  # which resource types feed each table (for lineage only)
    "patients": "Patient", "sessions": "MedicationAdministration", "vitals": "Observation",
    "assessments": "Observation", "adverse_events": "AdverseEvent", "labs": "Observation",
}


def _json(path: Path) -> dict | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def is_bulk_manifest(doc: dict | None) -> bool:
    return isinstance(doc, dict) and doc.get("contract") != KOR_CONTRACT and "transactionTime" in doc \
        and isinstance(doc.get("output"), list)


def is_fhir_folder(path: Path) -> bool:
    """A Bulk Data completion manifest, or NDJSON files and no kor manifest."""
    path = Path(path)
    if not path.is_dir():
        return False
    if (path / MANIFEST).is_file():
        return is_bulk_manifest(_json(path / MANIFEST))
    return any(p.name != LOG for p in path.glob("*.ndjson"))


def _time(value: str, export: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BundleError("bundle.exported_at", "transactionTime is not an ISO 8601 instant", export) \
            from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _log_details(root: Path) -> list[dict]:
    """The eventDetail of each event the server logged in log.ndjson, in order ([] without one)."""
    p = root / LOG
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            ev = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(ev, dict) and isinstance(ev.get("eventDetail"), dict):
            out.append(ev["eventDetail"])
    return out


def _log_time(details: list[dict]) -> str | None:
    """The last transactionTime the log gives."""
    return next((d["transactionTime"] for d in reversed(details) if d.get("transactionTime")), None)


def _kickoff_url(details: list[dict]) -> str | None:
    """The kick-off request URL the server logged, if any."""
    return next((d["exportUrl"] for d in details if isinstance(d.get("exportUrl"), str)), None)


def requested_since(url: str | None) -> bool:
    """True when a kick-off URL asked for changes only (_since)."""
    return bool(url) and bool(parse_qs(urlparse(url).query).get("_since"))


def _local(root: Path, url: str, export: str) -> Path:
    name = PurePosixPath(urlparse(url).path).name if "://" in url else PurePosixPath(url.replace("\\", "/")).name
    if not name or name in (".", ".."):
        raise BundleError("bundle.path_inside", "manifest output has no file name", export, url)
    return root / name


def list_deleted(root: Path, manifest: dict | None, export: str) -> list[Path]:
    """The manifest's `deleted` files ([] without a manifest: nothing says which files they are)."""
    out = []
    for entry in (manifest or {}).get("deleted") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise BundleError("fhir.manifest", "a deleted entry has no url", export)
        p = _local(root, entry["url"], export)
        if not p.is_file():
            raise BundleError("bundle.file_missing", "deleted file listed in the manifest is missing", export, p.name)
        out.append(p)
    return out


def list_files(root: Path, manifest: dict | None, export: str) -> tuple[list[tuple[str, Path]], list[Path]]:
    """([(declared type, path)] of resource files, [error/outcome files])."""
    if manifest is None:
        files = sorted(p for p in root.glob("*.ndjson") if p.name != LOG)
        return [(p.name.split(".", 1)[0], p) for p in files], []
    out = []
    for entry in manifest.get("output") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise BundleError("fhir.manifest", "an output entry has no url", export)
        p = _local(root, entry["url"], export)
        if not p.is_file():
            raise BundleError("bundle.file_missing", "file listed in the manifest is missing", export, p.name)
        out.append((str(entry.get("type") or p.name.split(".", 1)[0]), p))
    errors = []
    for entry in (manifest.get("error") or []) + (manifest.get("outcome") or []):
        if isinstance(entry, dict) and isinstance(entry.get("url"), str):
            p = _local(root, entry["url"], export)
            if p.is_file():
                errors.append(p)
    return out, errors


def open_export(source, **options) -> Bundle:
    root = Path(source)
    label = root.name
    if not root.is_dir():
        raise BundleError("fhir.folder", "a FHIR Bulk Data export is a folder of NDJSON files", label)
    manifest = _json(root / MANIFEST) if (root / MANIFEST).is_file() else None
    if (root / MANIFEST).is_file() and not is_bulk_manifest(manifest):
        raise BundleError("fhir.manifest", "manifest.json is not a Bulk Data completion manifest", label)
    meta = _json(root / EXPORT_JSON) or {}
    files, errors = list_files(root, manifest, label)
    deleted = list_deleted(root, manifest, label)
    if not files and not deleted:
        raise BundleError("bundle.files", "the export holds no NDJSON resource files", label)

    hashes = {p.name: sha256_of(p) for _, p in files}
    hashes.update({p.name: sha256_of(p) for p in deleted})
    if manifest is not None:
        hashes[MANIFEST] = sha256_of(root / MANIFEST)
    content = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()

    logged = _log_details(root)  # the server's log.ndjson: a few events
    when = (manifest or {}).get("transactionTime") or _log_time(logged) or options.get("exported_at")
    if when:
        exported_at = _time(when, label)
    else:
        newest = max(p.stat().st_mtime for p in [*(p for _, p in files), *deleted])
        exported_at = datetime.fromtimestamp(newest, timezone.utc).replace(microsecond=0)
    registry = options.get("registry_id") or meta.get("registry_id")
    if not isinstance(registry, str) or not REGISTRY_RE.match(registry):
        raise BundleError("bundle.registry_id", "registry_id missing (pass --registry) or not [a-z0-9][a-z0-9-]{0,63}",
                          label)
    export_id = meta.get("export_id") or ("fhir-" + re.sub(r"[^0-9A-Za-z]", "-", exported_at.isoformat())[:40]
                                          + "-" + content[:8])
    if not isinstance(export_id, str) or not EXPORT_ID_RE.match(export_id):
        raise BundleError("bundle.export_id", "export_id in export.json is not a plain identifier", label, EXPORT_JSON)
    if meta.get("mode") is not None and meta["mode"] not in ("full", "incremental"):
        # anything else would load as incremental (only "full" withdraws), a snapshot withdrawing nothing
        raise BundleError("bundle.mode", "mode in export.json must be full or incremental", label, EXPORT_JSON)
    # _since: only what changed since then. Read from export.json, else from the kick-off request the
    # manifest (`request`) or the server's log names, so a delta is never taken for a snapshot.
    request = (manifest or {}).get("request") if isinstance((manifest or {}).get("request"), str) else None
    since = meta.get("since") or requested_since(request or _kickoff_url(logged))
    # Deleted resources are listed only for a _since request (Bulk Data IG v2), whose kick-off URL a
    # POST kick-off leaves out of `request`: a manifest that lists them is a delta. Taken for a
    # snapshot, an export of deletions only would withdraw every record of the registry.
    lists_deletions = bool(deleted)
    mode = meta.get("mode") or ("incremental" if since or lists_deletions else "full")
    if mode == "full" and lists_deletions:
        raise BundleError("fhir.mode", "export.json says full, but the manifest lists deleted resources "
                          "(only an incremental export lists them)", label)
    if mode == "full" and not files:
        raise BundleError("bundle.files", "a full export holds no NDJSON resource files", label)
    by_type: dict[str, Path] = {}
    for t, p in files:
        by_type.setdefault(t, p)
    fallback = files[0][1] if files else deleted[0]  # an export may hold deletions only
    bundle_files = [ExportFile(table, by_type.get(rtype, fallback), by_type.get(rtype, fallback).name,
                               hashes[by_type.get(rtype, fallback).name], 0, "ndjson")
                    for table, rtype in TABLE_SOURCES.items()]
    bundle = Bundle(registry_id=registry, export_id=export_id, exported_at=exported_at, mode=mode, contract=CONTRACT,
                    files=bundle_files, root=root, source=str(source), manifest_sha256=content)
    bundle.fhir_files = files  # type: ignore[attr-defined]
    bundle.fhir_errors = errors  # type: ignore[attr-defined]
    bundle.fhir_deleted = deleted  # type: ignore[attr-defined]
    return bundle
