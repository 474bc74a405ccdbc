"""The ingest flow: one flow run per export, thin orchestration over plain functions.

verify bundle -> (duplicate? record it) -> read tables -> pseudonymise -> validate -> split ->
(over threshold? reject) -> load in one DuckDB transaction. Every step's logic lives in
transforms/, expectations/ and warehouse/, where tests call it without Prefect.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

from expectations.validate import validate_and_split
from transforms import adapters, free_text, split
from transforms.bundle import Bundle, BundleError
from transforms.pseudonymise import build_key_map, load_key
from transforms.read import ReadResult
from transforms.redaction import StepFailed, contained, file_label, redact_text
from transforms.tables import TABLE_ORDER
from transforms.workspace import close_workspace, open_workspace
from warehouse.connect import attach, detach, ensure_warehouse, warehouse_path
from warehouse.load import ExportMeta, LoadOutcome, find_loaded, load_export, record_duplicate, record_rejection
from warehouse.locks import registry_lock

DEFAULT_THRESHOLD = 0.05


@contextmanager
def without_heartbeats():
    """Run ingest flows called inside it without Prefect's flow-run heartbeats.

    Why: Prefect 3.9's flow engine ends a run by joining its heartbeat thread, which sleeps in 1 s
    steps, so every ingest took up to 1 s (0.5 s on average) longer than its work (run times came
    out as whole seconds plus ~0.1). Heartbeats are there to notice crashed deployment runs; an
    ingest called from a running process (the CLI, the warm worker, the sweep, a parent flow) has
    that process watching it, and the deployment runs that call it keep their own heartbeats."""
    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


# The steps an ingest reports as it finishes each (ingest_progress), in order; one that ends early
# (a duplicate, a rejection) reports no more.
STEPS = ("verify", "read", "pseudonymise", "validate", "split", "load")
_on_step: ContextVar[Callable[[str], None] | None] = ContextVar("outcomes_ingest_on_step", default=None)


@contextmanager
def ingest_progress(on_step: Callable[[str], None]):
    """Ingests run inside it call on_step(name) as each of STEPS ends: the CLI's progress bar, for
    which one large export is minutes of work. A callable is no flow parameter (Prefect stores
    those), hence a context variable."""
    token = _on_step.set(on_step)
    try:
        yield
    finally:
        _on_step.reset(token)


def ingest_in_process(source: str, **kwargs) -> dict:
    """ingest_export as the project's callers run it (CLI, warm worker, sweep, ingest_exports):
    without flow-run heartbeats (without_heartbeats says why)."""
    with without_heartbeats():
        return ingest_export(source, **kwargs)


@dataclass
class IngestResult:
    """What the CLI and callers get back: no row values, no identifiers."""
    registry_id: str
    export_id: str | None
    status: str
    load_id: int | None = None
    reason: str | None = None
    source: str = ""
    exported_at: str | None = None
    mode: str | None = None
    tables: dict = field(default_factory=dict)
    dropped_columns: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    rules_broken: dict = field(default_factory=dict)  # rule -> rows quarantined
    alerts: dict = field(default_factory=dict)  # rule -> count
    unparked: dict = field(default_factory=dict)  # table -> rows parked by earlier exports, loaded now

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _meta(bundle: Bundle, adapter: str, started: datetime, flow_run_id: str | None,
          notify: str | None = None, timezone_name: str | None = None) -> ExportMeta:
    return ExportMeta(
        registry_id=bundle.registry_id, export_id=bundle.export_id, exported_at=bundle.exported_at,
        mode=bundle.mode, adapter=adapter, contract=bundle.contract, content_sha256=bundle.manifest_sha256,
        source=redact_text(bundle.source), started_at=started, flow_run_id=flow_run_id,
        source_files={f.table: file_label(f.relpath) for f in bundle.files}, notify=notify, timezone=timezone_name,
    )


# A BundleError is an outcome, not a failure of the step: the tasks that meet one return it, so
# that a rejected export is told in one log line instead of under Prefect's logged traceback.
@task(name="verify-bundle", cache_policy=NO_CACHE)
@contained("verify-bundle")
def verify_bundle(source: str, adapter: str, options: dict) -> Bundle | BundleError:
    try:
        return adapters.get(adapter).open(source, **options)
    except BundleError as e:
        return e


@task(name="check-duplicate", cache_policy=NO_CACHE)
@contained("check-duplicate", passes=(BundleError,))
def check_duplicate(ws, warehouse: str, bundle: Bundle) -> int | None:
    attach(ws, warehouse, read_only=True)
    try:
        return find_loaded(ws, bundle.registry_id, bundle.export_id, bundle.manifest_sha256)
    finally:
        detach(ws)


@task(name="read-tables", cache_policy=NO_CACHE)
@contained("read-tables")
def read_tables(ws, bundle: Bundle, adapter: str) -> dict[str, ReadResult] | BundleError:
    try:
        return adapters.get(adapter).read(ws, bundle)
    except BundleError as e:
        return e


@task(name="pseudonymise", cache_policy=NO_CACHE)
@contained("pseudonymise", passes=(BundleError,))
def pseudonymise(ws, bundle: Bundle, tables: list[str], key: bytes) -> int:
    return build_key_map(ws, key, bundle.registry_id, tables)


@task(name="validate", cache_policy=NO_CACHE)
@contained("validate", passes=(BundleError,))
def validate(ws, warehouse: str, bundle: Bundle, reads: dict[str, ReadResult]) -> dict:
    """Validate, and split each table as soon as its verdicts are in (quarantine, flags, alerts,
    the keys a full export holds), then free its raw and staging rows: memory stays bounded by
    the largest table, not the export."""
    attach(ws, warehouse, read_only=True)
    try:
        return validate_and_split(ws, bundle.registry_id, bundle.exported_at, bundle.mode, reads)
    finally:
        detach(ws)


@task(name="split-rows", cache_policy=NO_CACHE)
@contained("split-rows", passes=(BundleError,))
def split_rows(ws, bundle: Bundle, reads: dict[str, ReadResult], key: bytes) -> dict[str, dict]:
    counts = {}
    for table in TABLE_ORDER:
        r = reads.get(table)
        malformed = 0
        if r and r.malformed_table:
            malformed = split.collect_malformed(ws, table, r.malformed_table, r.file)
        if r:
            counts[table] = split.table_counts(ws, table, r.rows, malformed)
        if r and r.deleted_table:  # records the export lists as deleted: an incremental load withdraws them
            counts[table]["deleted_listed"] = split.listed_keys(ws, table, r.deleted_table)
    free_text.scrub_quarantine(ws, key, bundle.registry_id)  # patient ids inside any kept value
    return counts


@task(name="load", cache_policy=NO_CACHE)
@contained("load", passes=(BundleError,))
def load(ws, warehouse: str, meta: ExportMeta, tables: list[str], counts, dropped, results, timings) -> LoadOutcome:
    return load_export(ws, warehouse, meta, tables, counts, dropped, results, timings)


@task(name="reject", cache_policy=NO_CACHE)
def reject(ws, warehouse: str, meta: ExportMeta, reason: str, counts=None, dropped=None, results=None,
           timings=None, with_findings: bool = True) -> LoadOutcome:
    return record_rejection(ws, warehouse, meta, reason, counts, dropped, results, timings, with_findings)


def adapter_notes(r: ReadResult) -> dict:
    """What an adapter counted but did not load (incomplete REDCap forms, values outside the
    dictionary's range, FHIR resources skipped), kept in the load report."""
    notes = {}
    for attr in ("incomplete_forms", "out_of_range", "skipped"):
        value = getattr(r, attr, None)
        if value:
            notes[attr] = value
    return notes


def _flow_run_id() -> str | None:
    try:
        from prefect.runtime import flow_run

        return str(flow_run.id) if flow_run.id else None
    except Exception:
        return None


def _summaries(ws) -> tuple[dict, dict]:
    broken = dict(ws.execute("SELECT rule, count(*) FROM q_rows GROUP BY rule ORDER BY rule").fetchall())
    alerts = dict(ws.execute("SELECT rule, count(*) FROM alert_rows GROUP BY rule ORDER BY rule").fetchall())
    return broken, alerts


@flow(name="ingest-export", log_prints=False)
def ingest_export(source: str, warehouse: str | None = None, reject_threshold: float = DEFAULT_THRESHOLD,
                  timezone_name: str = "UTC", adapter: str | None = None, options: dict | None = None,
                  notify: str | None = None) -> dict:
    """Load one export exactly once. Returns an IngestResult as a dict.

    adapter: kor, redcap or fhir (detected when None); options go to the adapter's open()
    (for example registry_id and mapping for REDCap). notify: the service instance that sends the
    outcome's events; the attempt is queued in ops.outbox in its own transaction (flows/outbox.py)."""
    logger = get_run_logger()
    key = load_key()  # refuse to run without a key, before reading anything
    wh = str(ensure_warehouse(warehouse_path(warehouse)))
    started = datetime.now(timezone.utc)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        if (on_step := _on_step.get()) is not None:
            on_step(name)

    adapter = adapter or adapters.detect(Path(source))
    options = options or {}
    # A folder or zip is named by the registry or whoever copied it in, perhaps after a person:
    # the path is read as it is, but stored (ops.loads.source) and returned redacted like file names.
    shown = redact_text(str(source))
    ws = open_workspace(timezone_name)
    bundle = None
    held = ExitStack()  # the registry's ingest lock, once the registry is known
    try:
        try:
            bundle = verify_bundle(source, adapter, options)
            if isinstance(bundle, BundleError):
                raise bundle
        except (BundleError, StepFailed) as e:
            bundle = None
            if isinstance(e, StepFailed) and e.transient:
                raise
            logger.error("export rejected: %s", e)
            registry = options.get("registry_id") or getattr(e, "registry", None) or "unknown"
            export = getattr(e, "export", None) or redact_text(Path(source).name)
            meta = ExportMeta(registry, export, None, "unknown", adapter, None, None, shown, started,
                              _flow_run_id(), notify=notify, timezone=timezone_name)
            out = reject(ws, wh, meta, str(e), with_findings=False)
            return IngestResult(registry, export, "rejected", out.load_id, str(e), shown).as_dict()
        lap("verify")
        meta = _meta(bundle, adapter, started, _flow_run_id(), notify, timezone_name)
        result = IngestResult(bundle.registry_id, bundle.export_id, "", source=shown,
                              exported_at=bundle.exported_at.isoformat(), mode=bundle.mode)
        # from the duplicate check to the commit, no other ingest of this registry may commit
        held.enter_context(registry_lock(wh, bundle.registry_id, on_wait=lambda: logger.info(
            "export %s: waiting for another ingest of registry %s", bundle.label, bundle.registry_id)))
        try:
            dup = check_duplicate(ws, wh, bundle)
            if dup is not None:
                out = record_duplicate(ws, wh, meta, dup, timings)
                logger.info("export %s already loaded (load %s): recorded as duplicate", bundle.label, dup)
                result.status, result.load_id, result.reason = "duplicate", out.load_id, out.reason
                return result.as_dict()
            reads = read_tables(ws, bundle, adapter)
            if isinstance(reads, BundleError):
                e = reads
                logger.error("export rejected: %s", e)
                out = reject(ws, wh, meta, str(e), with_findings=False)
                result.status, result.load_id, result.reason = "rejected", out.load_id, str(e)
                return result.as_dict()
            lap("read")
            meta.source_files = {t: r.file for t, r in reads.items()}
            dropped = {t: r.dropped_columns for t, r in reads.items() if r.dropped_columns}
            identifiers = {t: r.identifier_columns for t, r in reads.items() if r.identifier_columns}
            if identifiers:
                logger.warning("export %s: identifier columns dropped before anything was written: %s",
                               bundle.label, identifiers)
            pseudonymise(ws, bundle, list(reads), key)
            lap("pseudonymise")
            results = validate(ws, wh, bundle, reads)
            lap("validate")
            counts = split_rows(ws, bundle, reads, key)
            for table, r in reads.items():
                notes = adapter_notes(r)
                if notes and table in counts:
                    counts[table]["notes"] = notes
            lap("split")
            flat = [r for rs in results.values() for r in rs]
            result.tables, result.dropped_columns = counts, dropped
            result.rules_broken, result.alerts = _summaries(ws)
            reason = split.over_threshold(counts, reject_threshold)
            if reason:
                reason = f"rejected share over the threshold: {reason}"
                for c in counts.values():  # nothing loads: the rows that would have are `valid`
                    c["valid"], c["loaded"] = c.get("loaded", 0), 0
                    c.pop("parked", None)  # nor is anything parked: the rows waiting are quarantined
                result.alerts = {}  # raised by a load only
                out = reject(ws, wh, meta, reason, counts, dropped, flat, timings)
                logger.error("export %s rejected: %s", bundle.label, reason)
                result.status, result.load_id, result.reason = "rejected", out.load_id, reason
                return result.as_dict()
            out = load(ws, wh, meta, list(reads), counts, dropped, flat, timings)
            lap("load")
            result.status, result.load_id, result.reason, result.timings = out.status, out.load_id, out.reason, timings
            result.unparked = out.unparked
            for rule, n in out.unparked_alerts.items():  # raised by rows of earlier exports loaded now
                result.alerts[rule] = result.alerts.get(rule, 0) + n
            logger.info("export %s: %s as load %s; rows %s", bundle.label, out.status, out.load_id,
                        {t: c.get("loaded") for t, c in counts.items()})
            return result.as_dict()
        except StepFailed as e:
            # Not the data's fault in a way a rule names (those are quarantined or rejected above):
            # recorded as a rejection, so the batch goes on and the export can be ingested again
            # once fixed; a transient failure (lock, memory, disk) fails the run, to be retried.
            if e.transient:
                raise
            reason = f"{e}; nothing loaded"
            logger.error("export %s rejected: %s", bundle.label, reason)
            out = reject(ws, wh, meta, reason, with_findings=False)
            result.status, result.load_id, result.reason = "rejected", out.load_id, reason
            return result.as_dict()
    finally:
        close_workspace(ws)
        held.close()
        if bundle is not None:
            bundle.close()


def discover(paths: list[str]) -> list[tuple[str, str]]:
    """Expand arguments into (export, adapter): an export folder or .zip in any format, or a folder
    holding exports (searched recursively)."""
    out: list[tuple[str, str]] = []

    def visit(p: Path, top: bool) -> None:
        name = adapters.detect(p)
        if name != "kor" or adapters.get("kor").detect(p):
            out.append((str(p), name))
        elif p.is_dir():
            for child in sorted(p.iterdir()):
                if child.is_dir() or child.suffix.lower() == ".zip":
                    visit(child, False)
        elif top:
            raise FileNotFoundError(f"{p} is not an export (no manifest.json, REDCap or FHIR files)")

    for arg in paths:
        p = Path(arg)
        if p.is_file() and p.name == "manifest.json":
            p = p.parent
        if not p.exists():
            raise FileNotFoundError(f"{p} does not exist")
        visit(p, True)
    return out


def plan(paths: list[str], options: dict | None = None) -> list[tuple[str, str, str, str]]:
    """Order exports by registry and exported_at, so that exports of one registry load in order.
    Exports whose structure cannot be read keep their place at the end (they will be rejected).
    Returns (registry, exported_at, path, adapter)."""
    ordered, broken = [], []
    for path, name in discover(paths):
        try:
            opener = adapters.get(name).open
            b = opener(path, verify_checksums=False) if name == "kor" else opener(path, **(options or {}))
            ordered.append((b.registry_id, b.exported_at.isoformat(), path, name))
            b.close()
        except Exception:  # noqa: BLE001 - the ingest itself reports why, with the rule
            broken.append(("", "", path, name))
    return sorted(ordered) + broken


@flow(name="ingest-exports")
def ingest_exports(paths: list[str], warehouse: str | None = None, reject_threshold: float = DEFAULT_THRESHOLD,
                   timezone_name: str = "UTC") -> list[dict]:
    """Ingest several exports in exported_at order per registry; one child flow run each."""
    return [ingest_in_process(p, warehouse=warehouse, reject_threshold=reject_threshold, timezone_name=timezone_name,
                              adapter=a) for _, _, p, a in plan(paths)]

