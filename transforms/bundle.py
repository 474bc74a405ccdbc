"""Open and verify a `kor` export bundle (contract section 2) before a single row is read.

Every structural failure rejects the whole export, so each check raises BundleError naming the
export, the file and the rule; nothing here ever prints a row's values.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from outcomes import scratch
from transforms.tables import TABLES
from transforms.redaction import file_label, has_identifier, redact_text

CONTRACT = "ketamine-outcomes-export/1"
REGISTRY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
EXPORT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
CONTRACT_RE = re.compile(r"^ketamine-outcomes-export/[0-9]{1,3}$")  # a version worth naming in an error
ZIP_PREFIX = "outcomes-zip-"
FORMATS = {".csv": "csv", ".csv.gz": "csv", ".parquet": "parquet"}


class BundleError(Exception):
    """A structural failure: the whole export is rejected."""

    def __init__(self, rule: str, message: str, export: str = "?", file: str | None = None,
                 registry: str | None = None):
        # a name given by the registry (a folder, a file in the manifest) is shown, and recorded,
        # with what looks like an identifier redacted
        export, file = redact_text(export), file_label(file)
        self.rule, self.export, self.file, self.registry = rule, export, file, registry
        where = f"export {export}" + (f", file {file}" if file else "")
        super().__init__(f"{where}: {message} [rule {rule}]")
        self.message = message


@dataclass
class ExportFile:
    table: str
    path: Path  # absolute, inside the bundle
    relpath: str  # as written in the manifest
    sha256: str
    rows: int
    format: str  # csv | parquet


@dataclass
class Bundle:
    registry_id: str
    export_id: str
    exported_at: datetime
    mode: str
    contract: str
    files: list[ExportFile]
    root: Path
    source: str
    manifest_sha256: str
    _tmp: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"{self.registry_id}/{self.export_id}"

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def file_format(relpath: str) -> str | None:
    low = relpath.lower()
    for suffix, fmt in FORMATS.items():
        if low.endswith(suffix):
            return fmt
    return None


def _safe_relpath(relpath: str, export: str) -> PurePosixPath:
    p = PurePosixPath(relpath.replace("\\", "/"))
    if not relpath or p.is_absolute() or relpath.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", relpath):
        raise BundleError("bundle.path_inside", "absolute path in manifest", export, relpath)
    if any(part == ".." for part in p.parts):
        raise BundleError("bundle.path_inside", "path leaves the bundle", export, relpath)
    return p


def _extract_zip(zpath: Path) -> tuple[tempfile.TemporaryDirectory, Path]:
    """Extract a zip safely: members with absolute or parent paths are refused, links are not followed."""
    # named after this process: an ingest killed mid-export leaves the unpacked export (as large as
    # the export), and the next one removes it
    scratch.remove_orphans(ZIP_PREFIX)
    tmp = tempfile.TemporaryDirectory(prefix=f"{ZIP_PREFIX}{os.getpid()}-")
    root = Path(tmp.name)
    try:
        _unzip(zpath, root, tmp)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, NotImplementedError, ValueError) as e:
        tmp.cleanup()  # a truncated or damaged zip (one still being copied in, say) is rejected
        raise BundleError("bundle.zip", f"the zip cannot be read ({type(e).__name__})", zpath.name) from None
    except BaseException:
        tmp.cleanup()
        raise
    manifests = list(root.rglob("manifest.json"))
    if len(manifests) != 1:
        tmp.cleanup()
        raise BundleError("bundle.manifest", f"zip holds {len(manifests)} manifest.json files, expected 1", zpath.name)
    return tmp, manifests[0].parent


def _unzip(zpath: Path, root: Path, tmp) -> None:
    with zipfile.ZipFile(zpath) as zf:
        for info in zf.infolist():
            name = info.filename
            p = PurePosixPath(name.replace("\\", "/"))
            if p.is_absolute() or any(part == ".." for part in p.parts):
                raise BundleError("bundle.path_inside", "zip member leaves the bundle", zpath.name, name)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                raise BundleError("bundle.path_inside", "zip member is a symbolic link", zpath.name, name)
        zf.extractall(root)


def sha256_of(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _parse_time(value: str, export: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        # the value is not repeated: a manifest field that fails its check may hold anything
        raise BundleError("bundle.exported_at", "exported_at is not an ISO 8601 datetime", export) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt


def open_bundle(source: str | Path, verify_checksums: bool = True) -> Bundle:
    """Read and check a bundle's manifest; with verify_checksums, hash every listed file."""
    source = Path(source)
    tmp = None
    root = source
    if source.is_file() and source.suffix.lower() == ".zip":
        tmp, root = _extract_zip(source)
    elif source.is_file() and source.name == "manifest.json":
        root = source.parent
    try:
        return _read_manifest(root, str(source), tmp, verify_checksums)
    except BaseException:
        if tmp is not None:
            tmp.cleanup()
        raise


def _read_manifest(root: Path, source: str, tmp, verify_checksums: bool) -> Bundle:
    label = Path(source).name
    mpath = root / "manifest.json"
    if not mpath.is_file():
        raise BundleError("bundle.manifest", "no manifest.json", label)
    raw = mpath.read_bytes()
    try:
        m = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError("bundle.manifest", f"manifest.json is not valid JSON ({e.__class__.__name__})", label)
    if not isinstance(m, dict):
        raise BundleError("bundle.manifest", "manifest.json is not a JSON object", label)
    # Errors name the export by its id only once the id has passed its check (else by the bundle's
    # file name), and never repeat a failing field's value: it could be anything, a name included.
    export_id = m.get("export_id")
    plain = isinstance(export_id, str) and EXPORT_ID_RE.match(export_id) and not has_identifier(export_id)
    export = export_id if plain else label
    registry = m.get("registry_id")
    known = registry if isinstance(registry, str) and REGISTRY_RE.match(registry) else None
    if m.get("contract") != CONTRACT:
        shown = m.get("contract") if isinstance(m.get("contract"), str) and CONTRACT_RE.match(m["contract"]) else None
        raise BundleError("bundle.contract", f"unknown contract version{f' {shown!r}' if shown else ''}, "
                          f"expected {CONTRACT!r}", export, registry=known)
    if known is None:
        raise BundleError("bundle.registry_id", "registry_id must match [a-z0-9][a-z0-9-]{0,63}", export)
    if not plain:
        raise BundleError("bundle.export_id", "export_id missing, not a plain identifier, or holding what looks "
                          "like a person's identifier", export, registry=known)
    try:
        return _read_files(root, source, tmp, verify_checksums, m, raw, known, export)
    except BundleError as e:  # the registry is known from here on: a rejection is recorded under it
        e.registry = e.registry or known
        raise


def _read_files(root: Path, source: str, tmp, verify_checksums: bool, m: dict, raw: bytes, registry: str,
                export: str) -> Bundle:
    exported_at = _parse_time(m.get("exported_at"), export)
    mode = m.get("mode")
    if mode not in ("full", "incremental"):
        raise BundleError("bundle.mode", "mode must be full or incremental", export)
    entries = m.get("files")
    if not isinstance(entries, list) or not entries:
        raise BundleError("bundle.files", "manifest lists no files", export)

    files: list[ExportFile] = []
    seen: set[str] = set()
    resolved_root = root.resolve()
    for entry in entries:
        if not isinstance(entry, dict):
            raise BundleError("bundle.files", "a files entry is not an object", export)
        table, relpath = entry.get("table"), entry.get("path")
        if table not in TABLES:
            raise BundleError("bundle.table", f"unknown table (expected one of {', '.join(TABLES)})", export,
                              str(relpath))
        if table in seen:
            raise BundleError("bundle.table", f"table {table} listed twice", export, str(relpath))
        seen.add(table)
        if not isinstance(relpath, str):
            raise BundleError("bundle.files", "file entry has no path", export)
        rel = _safe_relpath(relpath, export)
        path = (root / rel).resolve()
        if resolved_root != path and resolved_root not in path.parents:
            raise BundleError("bundle.path_inside", "path leaves the bundle (through a link)", export, relpath)
        fmt = file_format(relpath)
        if fmt is None:
            raise BundleError("bundle.format", "file must be .csv, .csv.gz or .parquet", export, relpath)
        if not path.is_file():
            raise BundleError("bundle.file_missing", "file listed in the manifest is missing", export, relpath)
        sha, rows = entry.get("sha256"), entry.get("rows")
        if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
            raise BundleError("bundle.sha256", "manifest sha256 missing or malformed", export, relpath)
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise BundleError("bundle.rows", "manifest rows missing or not a count", export, relpath)
        if verify_checksums:
            actual = sha256_of(path)
            if actual.lower() != sha.lower():
                raise BundleError("bundle.sha256", "sha256 differs from the manifest (file altered or truncated)", export, relpath)
        files.append(ExportFile(table, path, relpath, sha.lower(), rows, fmt))
    return Bundle(
        registry_id=registry,
        export_id=m["export_id"],
        exported_at=exported_at,
        mode=mode,
        contract=m["contract"],
        files=files,
        root=root,
        source=source,
        manifest_sha256=hashlib.sha256(raw).hexdigest(),
        _tmp=tmp,
    )


def find_bundles(paths: list[str | Path]) -> list[Path]:
    """Expand CLI arguments: an export folder, a .zip, or a folder holding exports (recursively)."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_file() and (p.suffix.lower() == ".zip" or p.name == "manifest.json"):
            out.append(p.parent if p.name == "manifest.json" else p)
        elif (p / "manifest.json").is_file():
            out.append(p)
        elif p.is_dir():
            found = sorted({m.parent for m in p.rglob("manifest.json")} | set(p.rglob("*.zip")))
            out.extend(found)
        else:
            raise FileNotFoundError(str(p))
    return out


__all__ = ["Bundle", "BundleError", "ExportFile", "open_bundle", "find_bundles", "sha256_of", "CONTRACT"]
