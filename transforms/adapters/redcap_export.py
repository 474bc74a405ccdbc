"""What one REDCap export is, and how it is opened into a Bundle.

A REDCap export is a folder:

    data.csv          the flat record export (raw values, raw variable names as headers)
    dictionary.csv    the data dictionary (metadata.csv, the API's name for it, is accepted too)
    mapping.toml      the project's mapping (or the `mapping` option, which wins)
    export.json       optional: {"registry_id", "export_id", "exported_at", "mode"}

REDCap's own files say nothing about which registry they come from or when they were pulled, so
export.json carries that (the API client writes it with the pull time); without it registry_id
comes from the `registry_id` option or the mapping, exported_at from data.csv's modification time,
and export_id is derived from the content hash, so the same files delivered twice load once. Mode
defaults to full: a REDCap export is normally a snapshot of the whole project.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from transforms.bundle import EXPORT_ID_RE, REGISTRY_RE, Bundle, BundleError, ExportFile, sha256_of
from transforms.adapters.redcap_mapping import Mapping, read_mapping

DATA = "data.csv"
DICTIONARIES = ("dictionary.csv", "metadata.csv")
MAPPING = "mapping.toml"
EXPORT_JSON = "export.json"
CONTRACT = "redcap-flat-csv"


def is_redcap_folder(path: Path) -> bool:
    """A folder with data.csv and a dictionary, or an export.json saying format redcap; never a kor
    export (a manifest.json) so the two can never be confused."""
    path = Path(path)
    if not path.is_dir() or (path / "manifest.json").exists():
        return False
    if (path / DATA).is_file() and any((path / d).is_file() for d in DICTIONARIES):
        return True
    meta = _export_json(path, strict=False)
    return isinstance(meta, dict) and meta.get("format") == "redcap"


def _export_json(root: Path, strict: bool = True, export: str = "?") -> dict | None:
    p = root / EXPORT_JSON
    if not p.is_file():
        return None
    try:
        meta = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        if strict:
            raise BundleError("redcap.export_json", "export.json is not valid JSON", export, EXPORT_JSON) from None
        return None
    if not isinstance(meta, dict):
        if strict:
            raise BundleError("redcap.export_json", "export.json is not a JSON object", export, EXPORT_JSON)
        return None
    return meta


def inside(root: Path, relpath: str, export: str) -> Path:
    """A file named by the mapping, refused when it would leave the export folder."""
    p = PurePosixPath(relpath.replace("\\", "/"))
    if p.is_absolute() or ".." in p.parts:
        raise BundleError("bundle.path_inside", "mapping names a file outside the export", export, relpath)
    return root / p


def dictionary_path(root: Path) -> Path | None:
    for name in DICTIONARIES:
        if (root / name).is_file():
            return root / name
    return None


def _time(value, export: str) -> datetime:
    try:
        dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BundleError("bundle.exported_at", "exported_at is not an ISO 8601 datetime", export) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def open_export(source, **options) -> Bundle:
    root = Path(source)
    label = root.name
    if not root.is_dir():
        raise BundleError("redcap.folder", "a REDCap export is a folder holding data.csv and dictionary.csv", label)
    meta = _export_json(root, export=label) or {}
    mapping_path = options.get("mapping") or (root / MAPPING if (root / MAPPING).is_file() else None)
    if mapping_path is None:
        raise BundleError("redcap.mapping", "no mapping: put mapping.toml in the export or pass --mapping", label)
    mapping: Mapping = read_mapping(mapping_path, label)

    files, hashes = [], {}
    for s in mapping.sources:
        path = inside(root, s.file, label)
        if not path.is_file():
            raise BundleError("bundle.file_missing", "file named by the mapping is missing", label, s.file)
        if s.file not in hashes:
            hashes[s.file] = sha256_of(path)
        if s.table not in {f.table for f in files}:
            files.append(ExportFile(s.table, path, s.file, hashes[s.file], 0, "csv"))
    dict_path = dictionary_path(root)
    if dict_path is None and any(s.form for s in mapping.sources):
        raise BundleError("redcap.dictionary", "no dictionary.csv (or metadata.csv) beside data.csv", label)
    if dict_path is not None:
        hashes[dict_path.name] = sha256_of(dict_path)
    hashes["mapping"] = mapping.sha256
    content = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()

    registry = options.get("registry_id") or meta.get("registry_id") or mapping.registry_id
    if not isinstance(registry, str) or not REGISTRY_RE.match(registry):
        raise BundleError("bundle.registry_id", "registry_id missing (pass --registry) or not [a-z0-9][a-z0-9-]{0,63}",
                          label)
    export_id = meta.get("export_id") or f"redcap-{content[:16]}"
    if not isinstance(export_id, str) or not EXPORT_ID_RE.match(export_id):
        raise BundleError("bundle.export_id", "export_id in export.json is not a plain identifier", label)
    if meta.get("exported_at"):
        exported_at = _time(meta["exported_at"], export_id)
    else:
        first = inside(root, mapping.sources[0].file, label)
        exported_at = datetime.fromtimestamp(first.stat().st_mtime, timezone.utc).replace(microsecond=0)
    mode = meta.get("mode", "full")
    if mode not in ("full", "incremental"):
        raise BundleError("bundle.mode", "mode must be full or incremental", export_id)
    bundle = Bundle(registry_id=registry, export_id=export_id, exported_at=exported_at, mode=mode,
                    contract=CONTRACT, files=files, root=root, source=str(source), manifest_sha256=content)
    bundle.mapping = mapping  # type: ignore[attr-defined]  # read() needs it; Bundle has no slot for it
    bundle.dictionary_path = dict_path  # type: ignore[attr-defined]
    return bundle
