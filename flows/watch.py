"""The landing zone: which exports in it are complete, and the watcher that announces them.

An export is *landed* when its manifest parses, every file it lists is present with the sha256 the
manifest states, and no file has changed size or change time (mtime or ctime) for `settle_seconds`.
Half-copied exports (missing files, short files, a manifest still being written) are never handed to ingest; one that
stays incomplete and unchanged for `stale_seconds` is handed over anyway so that ingest records it as
rejected (a registry that never sends the missing file must hear about it).

Names starting with "." or ending in ".tmp"/".partial" are ignored: the pull flow copies into such a
temporary name and renames it when complete, and users can do the same (`cp -r x .x; mv .x x`).

Everything above the `@flow` is plain Python, unit-tested without Prefect.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow, get_run_logger

from transforms.bundle import BundleError, open_bundle, sha256_of
from transforms.redaction import redact_text

log = logging.getLogger(__name__)

LANDED_EVENT = "registry.export.landed"
READY, INCOMPLETE, BROKEN = "ready", "incomplete", "broken"


def hidden(path: Path, root: Path) -> bool:
    """A temporary name anywhere below the landing zone root."""
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        parts = path.parts
    return any(p.startswith(".") or p.endswith((".tmp", ".partial")) for p in parts)


def candidates(root: Path) -> list[Path]:
    """Export folders (holding manifest.json) and .zip bundles below root, temporary names skipped.
    A folder that is itself an export is not searched further."""
    out: list[Path] = []
    if not root.is_dir():
        return out
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            entries = sorted(d.iterdir())
        except OSError:
            continue
        if d != root and (d / "manifest.json").exists():
            out.append(d)
            continue
        for e in entries:
            if e.name.startswith(".") or e.name.endswith((".tmp", ".partial")):
                continue
            if e.is_dir():
                stack.append(e)
            elif e.suffix.lower() == ".zip" and e.is_file():
                out.append(e)
    return sorted(out)


@dataclass
class Check:
    """What is known about one candidate: no row values, only the manifest's identity."""
    path: Path
    state: str  # ready | incomplete | broken
    signature: tuple  # sizes and change times of the manifest and every listed file
    registry_id: str | None = None
    export_id: str | None = None
    exported_at: str | None = None  # ISO 8601
    manifest_sha256: str | None = None
    reason: str | None = None

    @property
    def sort_key(self) -> tuple:
        return (self.registry_id or "~", self.exported_at or "~", str(self.path))


def _stat(p: Path) -> tuple:
    """(name, size, last change in ns). The change time is the later of mtime and ctime: copies
    that keep the source's mtime (`cp -a`, `rsync -a`, unzip) still show when they were written
    here, which is what staleness and "attempted after its files last changed" must compare with."""
    try:
        st = p.stat()
        return (p.name, st.st_size, max(st.st_mtime_ns, st.st_ctime_ns))
    except (OSError, ValueError):  # ValueError: a manifest path with a NUL byte
        return (p.name, -1, 0)


def _folder_signature(folder: Path) -> tuple[tuple, dict | None]:
    """Signature of a folder export and its manifest (None when it does not parse yet)."""
    mpath = folder / "manifest.json"
    sig = [_stat(mpath)]
    try:
        m = json.loads(mpath.read_bytes().decode("utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return tuple(sig), None
    if isinstance(m, dict) and isinstance(m.get("files"), list):
        for entry in m["files"]:
            rel = entry.get("path") if isinstance(entry, dict) else None
            if isinstance(rel, str) and ".." not in rel and not rel.startswith("/"):
                sig.append(_stat(folder / rel))
    return tuple(sig), m if isinstance(m, dict) else None


def signature(path: Path) -> tuple:
    if path.is_dir():
        return _folder_signature(path)[0]
    return (_stat(path),)


def _manifest_bytes(path: Path) -> bytes | None:
    try:
        if path.is_dir():
            return (path / "manifest.json").read_bytes()
        with zipfile.ZipFile(path) as zf:
            names = [n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "manifest.json"]
            return zf.read(names[0]) if len(names) == 1 else None
    except Exception:  # noqa: BLE001 - half copied, encrypted, an unsupported compression: no manifest
        return None


def identify(path: Path) -> Check:
    """Cheap: the manifest's identity (registry, export id, exported_at, manifest hash) and the
    files' signature, without hashing data files. State stays INCOMPLETE until check_export."""
    sig = signature(path)
    raw = _manifest_bytes(path)
    c = Check(path, INCOMPLETE, sig)
    if raw is None:
        return c
    try:
        m = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return c
    if isinstance(m, dict):
        c.registry_id, c.export_id, c.exported_at = _str(m.get("registry_id")), _str(m.get("export_id")), \
            _str(m.get("exported_at"))
        c.manifest_sha256 = hashlib.sha256(raw).hexdigest()
    return c


def check_export(path: Path) -> Check:
    """Is this export complete? Reads manifests and hashes files; never reads a row.

    Never raises: one export that cannot be checked must not stop the watcher, the sweep or the
    ingest of any other export. A file that cannot be read (yet) leaves it incomplete; anything
    else makes it broken, handed to ingest at once to be rejected."""
    try:
        return _check_export(path)
    except OSError as e:
        return Check(path, INCOMPLETE, signature(path), reason=f"cannot be read yet ({e.strerror or type(e).__name__})")
    except Exception as e:  # noqa: BLE001
        c = identify(path)
        c.state, c.reason = BROKEN, f"cannot be checked ({type(e).__name__})"
        return c


def _check_export(path: Path) -> Check:
    c = identify(path)
    if path.is_dir():
        if c.manifest_sha256 is None:
            c.reason = "manifest.json missing or not valid JSON yet"
            return c
        try:
            bundle = open_bundle(path, verify_checksums=False)
        except BundleError as e:
            c.state = INCOMPLETE if e.rule == "bundle.file_missing" else BROKEN
            c.reason = str(e)
            return c
        try:
            c.exported_at = bundle.exported_at.isoformat()
            for f in bundle.files:
                if sha256_of(f.path).lower() != f.sha256.lower():
                    c.reason = f"{f.relpath}: sha256 does not match the manifest yet"
                    return c
            c.state = READY
            return c
        finally:
            bundle.close()
    try:
        with zipfile.ZipFile(path) as zf:
            if zf.testzip() is not None:
                c.reason = "zip member CRC mismatch"
                return c
    except (zipfile.BadZipFile, OSError, EOFError):
        c.reason = "not a complete zip file yet"
        return c
    except (RuntimeError, NotImplementedError) as e:  # complete, and unreadable: nothing will change that
        c.state = BROKEN
        c.reason = ("the zip is encrypted" if isinstance(e, RuntimeError) else
                    "the zip uses a compression method that cannot be read (use deflate)")
        return c
    try:
        bundle = open_bundle(path, verify_checksums=True)
    except BundleError as e:
        c.state, c.reason = BROKEN, str(e)
        return c
    try:
        c.exported_at, c.state = bundle.exported_at.isoformat(), READY
        return c
    finally:
        bundle.close()


def _str(v) -> str | None:
    return v if isinstance(v, str) else None


@dataclass
class _Seen:
    signature: tuple
    since: float
    check: Check | None = None
    done: bool = False  # already in ops.loads: never looked at again while unchanged


@dataclass
class Tracker:
    """Remembers what each candidate looked like, so an export counts as landed only once its files
    stopped changing, and hashes are computed once per version of the files."""
    settle_seconds: float = 1.0
    stale_seconds: float = 600.0
    seen: dict[Path, _Seen] = field(default_factory=dict)

    def scan(self, root: Path, now: float | None = None, is_recorded=None) -> list[Check]:
        """Candidates that are ready to ingest now (settled and complete, broken, or stale), in
        (registry, exported_at) order. is_recorded(list[Check]) -> set of paths already in the ledger:
        those are skipped without hashing."""
        now = time.monotonic() if now is None else now
        out, settled = [], []
        present = set()
        for path in candidates(root):
            present.add(path)
            sig = signature(path)
            s = self.seen.get(path)
            if s is None or s.signature != sig:
                self.seen[path] = _Seen(sig, now)
                continue
            if s.done or now - s.since < self.settle_seconds:
                continue
            settled.append(path)
        if settled and is_recorded is not None:
            fresh = [p for p in settled if self.seen[p].check is None]
            if fresh:
                done = is_recorded([identify(p) for p in fresh])
                for p in done:
                    self.seen[p].done = True
                settled = [p for p in settled if p not in done]
        for path in settled:
            s = self.seen[path]
            if s.check is None or s.check.signature != s.signature:
                s.check = check_export(path)
                if s.check.signature != s.signature:  # changed while we looked
                    self.seen[path] = _Seen(s.check.signature, now)
                    continue
            age = now - s.since
            if s.check.state in (READY, BROKEN) or age >= self.stale_seconds:
                out.append(s.check)
        for gone in set(self.seen) - present:
            del self.seen[gone]
        return sorted(out, key=lambda c: c.sort_key)


def ledger_key(check: Check) -> tuple:
    return (check.registry_id, check.export_id, check.manifest_sha256)


def read_ledger(warehouse: Path) -> tuple[set, dict]:
    """(registry, export id, manifest hash) of every ops.loads row, and for each source path the
    time (epoch seconds) of the latest attempt that read it."""
    if not Path(warehouse).exists():
        return set(), {}
    from warehouse.connect import open_readonly

    con = open_readonly(warehouse)
    try:
        rows = con.execute("SELECT registry_id, export_id, content_sha256, source, epoch(started_at) "
                           "FROM ops.loads").fetchall()
    finally:
        con.close()
    sources: dict[str, float] = {}
    for *_, src, started in rows:
        if src is not None:
            sources[src] = max(sources.get(src, 0.0), float(started))
    return {(r, e, s) for r, e, s, _, _ in rows}, sources


def recorded(warehouse: Path, checks: list[Check], ledger: tuple | None = None) -> set[Path]:
    """Which of these exports ops.loads already records (loaded, duplicate or rejected).

    Recorded: a ledger row has the export's registry, export id and manifest hash (a corrected
    re-send under the same export id is new), or an attempt read this very path after its files
    last changed (covers exports rejected before their manifest could be read). ops.loads keeps a
    path redacted (flows/ingest.py), so a path is compared so too (and as it is, for older rows)."""
    if not checks:
        return set()
    keys, sources = ledger or read_ledger(warehouse)
    out = set()
    for c in checks:
        newest = max((m for _, _, m in c.signature), default=0) / 1e9
        if c.manifest_sha256 and ledger_key(c) in keys:
            out.add(c.path)
        elif max(sources.get(str(c.path), -1.0), sources.get(redact_text(str(c.path)), -1.0)) >= newest:
            out.add(c.path)
    return out


def folder_registry(path: Path, root: Path, known) -> str | None:
    """The registry an export's place names, landing/<registry>/..., when it is one the configuration
    names (`known`). Only for an export whose manifest cannot say (unreadable, or without
    registry_id): its rejection is then that registry's, and so is the notification (per-registry
    `notify`), instead of going to registry "unknown". The manifest, when it names one, wins."""
    try:
        rel = Path(path).resolve().relative_to(Path(root).resolve())
    except ValueError:
        return None
    return rel.parts[0] if len(rel.parts) >= 2 and rel.parts[0] in set(known or ()) else None


def pending(root: Path, warehouse: Path, registry_id: str | None = None, stale_seconds: float = 600.0,
            up_to: str | None = None, known=()) -> list[Check]:
    """Every export in the landing zone that is complete (or broken, or stale) and not in ops.loads,
    in (registry, exported_at) order; only `registry_id`'s when given, only those exported at or
    before `up_to` (ISO 8601) when given. One look, no watcher state: staleness from the files' change times
    (see _stat). known: the configured registries, for folder_registry."""
    now = time.time()
    ids = [identify(p) for p in candidates(root)]
    for c in ids:
        c.registry_id = c.registry_id or folder_registry(c.path, root, known)
    if registry_id is not None:
        ids = [c for c in ids if (c.registry_id or "unknown") == registry_id]
    done = recorded(warehouse, ids)
    out = []
    for c in ids:
        if c.path in done:
            continue
        named = c.registry_id  # the manifest's, or folder_registry's above
        c = check_export(c.path)
        c.registry_id = c.registry_id or named
        age = now - max((m for _, _, m in c.signature), default=0) / 1e9
        if c.state in (READY, BROKEN) or age >= stale_seconds:
            out.append(c)
    if up_to is not None:
        limit = _when(up_to)
        out = [c for c in out if c.exported_at is None or _when(c.exported_at) <= limit]
    return sorted(out, key=lambda c: (c.registry_id or "~", _when(c.exported_at) if c.exported_at else _MAX,
                                      str(c.path)))


def _when(iso: str):
    from datetime import datetime, timezone

    try:
        dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return _MAX
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _max():
    from datetime import datetime, timezone

    return datetime.max.replace(tzinfo=timezone.utc)


_MAX = _max()


# --- the Prefect side: a long-running flow that scans and emits events -------------------------------------

@flow(name="watch-landing-zone", log_prints=False)
def watch_landing(run_for: float | None = None) -> int:
    """Scan the landing zone every `watch_poll` seconds for `run_for` seconds (default: the configured
    watch_cycle plus a margin, so consecutive watcher runs overlap) and emit `registry.export.landed`
    once per complete export. Returns how many were announced. Duplicate announcements are harmless:
    ingest re-checks ops.loads under the registry's lock."""
    from flows.events import emit_landed
    from flows.parent import service_gone_check
    from outcomes.config import load_config, warehouse_for

    logger = get_run_logger()
    cfg = load_config()
    svc = cfg.service
    root, wh = Path(cfg.landing_zone).resolve(), warehouse_for(cfg).resolve()
    root.mkdir(parents=True, exist_ok=True)
    tracker = Tracker(svc.settle_seconds, svc.stale_seconds)
    emitted: dict[Path, tuple] = {}
    deadline = time.monotonic() + (run_for if run_for is not None else svc.watch_cycle + 30)
    logger.info("watching %s (every %.1f s, settle %.1f s)", root, svc.watch_poll, svc.settle_seconds)

    def is_recorded(checks):
        try:
            return recorded(wh, checks)
        except Exception as e:  # a locked or broken warehouse must not stop the watcher
            logger.warning("could not read ops.loads (%s)", e)
            return set()

    count = 0
    service_gone = service_gone_check()  # `outcomes serve`, whose runner started this flow run
    while time.monotonic() < deadline:
        if service_gone():  # the service died (kill -9): its restart starts a new watcher
            logger.warning("the service that started this watcher is gone: stopping")
            break
        try:
            landed = tracker.scan(root, is_recorded=is_recorded)
        except Exception as e:  # noqa: BLE001 - the next scan tries again; the sweep is the backstop
            logger.warning("scanning %s failed (%s: %s)", root, type(e).__name__,
                           redact_text(str(e)))  # an OSError names the folder, perhaps a person's
            landed = []
        for c in landed:
            if emitted.get(c.path) == c.signature:
                continue
            emitted[c.path] = c.signature
            emit_landed(c, svc.name)
            count += 1
            logger.info("landed: %s %s (%s) at %s", c.registry_id, c.export_id, c.state,
                        redact_text(str(c.path)))  # a folder's name may be a person's
        for gone in set(emitted) - set(tracker.seen):
            del emitted[gone]
        time.sleep(svc.watch_poll)
    return count
