"""`outcomes`: the command line. Thin: every command calls plain functions or flows.

Exit codes: 0 success; 1 the work failed (an export rejected, a query failed, the warehouse busy
or unreadable); 2 usage errors (click's own, and invalid settings). Errors are one line on stderr,
never a traceback. `sql` and `status` never import Prefect, so they answer fast.
"""
from __future__ import annotations

import csv
import errno
import io
import json
import math
import os
import re
import secrets
import shlex
import sys
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click


def _jsonable(v):
    """A value as JSON types: NaN and infinities as None, since JSON has no such numbers (DuckDB's
    DOUBLE division by zero gives them) and bare NaN makes strict parsers reject the whole output."""
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, timedelta):
        return interval_text(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def interval_text(v: timedelta) -> str:
    """A timedelta as DuckDB prints an INTERVAL ('1 day 01:30:00', '-01:30:00'). DuckDB hands
    a month to Python as 30 days, so `sql` fetches INTERVALs, nested ones too, as DuckDB's text;
    this is for Python's own values."""
    micros = v // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    days, rest = divmod(abs(micros), 86_400_000_000)
    parts = [f"{sign}{days} day{'s' if days != 1 else ''}"] if days else []
    if rest or not days:
        seconds, fraction = divmod(rest, 1_000_000)
        clock = f"{sign if rest else ''}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
        parts.append(clock + (f".{fraction:06d}".rstrip("0") if fraction else ""))
    return " ".join(parts)


def _json_text(value, indent: int | None = 2) -> str:
    """json.dumps, each Decimal written as its exact digits: a JSON number, as DuckDB's
    to_json writes a DECIMAL, where a float would lose the digits past the 17th."""
    digits: list[str] = []
    mark = f"decimal-{secrets.token_hex(8)}-"

    def prepare(v):
        if isinstance(v, Decimal) and v.is_finite():
            digits.append(format(v, "f"))
            return f"{mark}{len(digits) - 1}"
        if isinstance(v, dict):
            return {str(k): prepare(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [prepare(x) for x in v]
        return _jsonable(v)

    text = json.dumps(prepare(value), indent=indent, default=str)
    return re.sub(f'"{mark}(\\d+)"', lambda m: digits[int(m.group(1))], text) if digits else text


def _text(v) -> str:
    """A non-NULL value as table and CSV cells show it: DuckDB's text for nan, inf, -inf, DECIMAL
    (all its digits) and INTERVAL."""
    if isinstance(v, bool):  # DuckDB's text, not Python's True/False
        return "true" if v else "false"
    if isinstance(v, float):
        return str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, timedelta):
        return interval_text(v)
    if isinstance(v, (dict, list, tuple)):
        return _json_text(v, indent=None)
    return str(_jsonable(v))


def render_table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    def cell(v) -> str:
        if v is None:
            return "NULL"
        s = _text(v)
        s = s.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")  # one row, one line
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    body = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    line = "-+-".join("-" * w for w in widths)
    out = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), line]
    out += [" | ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in body]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def _json_value(v):
    """A JSON-typed column's text as the value it holds (left as text if it does not parse)."""
    if not isinstance(v, str):
        return _jsonable(v)
    try:
        return _jsonable(json.loads(v))  # DuckDB's JSON may hold NaN or Infinity
    except ValueError:
        return v


def unique_keys(columns: list[str]) -> list[str]:
    """Column names as JSON object keys: a name's second and later columns become name_2, name_3, ...
    (skipping names other columns have), so that `SELECT *` over a join keeps both sides' columns."""
    taken, keys = set(columns), []
    for c in columns:
        if c in keys:
            n = 2
            while f"{c}_{n}" in taken:
                n += 1
            c = f"{c}_{n}"
            taken.add(c)
        keys.append(c)
    return keys


def emit_rows(columns: list[str], rows: list[tuple], fmt: str, json_columns: frozenset[int] = frozenset()) -> None:
    """json_columns: indexes of columns of SQL type JSON, nested as JSON in --format json."""
    if fmt == "json":
        keys = unique_keys(columns)
        click.echo(_json_text([{c: _json_value(v) if i in json_columns else v for i, (c, v) in enumerate(zip(keys, r))}
                               for r in rows]))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow(["" if v is None else _text(v) for v in r])
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(render_table(columns, rows))


def resolve_warehouse_option(ctx, param, value) -> str:
    """--warehouse, else `warehouse` in outcomes.toml, else $OUTCOMES_WAREHOUSE, else
    ./data/warehouse.duckdb: the same for every command (outcomes.config.resolve_warehouse).
    A name that reads as a data file (x.csv, x.parquet, ...) is a usage error."""
    import os

    from outcomes.config import ConfigError, load_config, resolve_warehouse
    from warehouse.connect import WarehouseError, check_warehouse_name

    try:
        config = None if value else load_config()
        path = resolve_warehouse(value, config)
    except ConfigError as e:
        raise click.UsageError(str(e), ctx)
    # where the path came from, for the hint of a missing warehouse (no_warehouse)
    ctx.meta["outcomes.warehouse_from"] = (
        "" if value else f" (set by `warehouse` in {config.path})" if config.warehouse
        else " (set by OUTCOMES_WAREHOUSE)" if os.environ.get("OUTCOMES_WAREHOUSE")
        else " (or set OUTCOMES_WAREHOUSE, or give -w)")
    try:
        check_warehouse_name(path)
    except WarehouseError as e:
        if value:
            raise click.BadParameter(str(e), ctx, param)
        raise click.UsageError(f"{e} (set in outcomes.toml or OUTCOMES_WAREHOUSE)", ctx)
    return str(path)


def no_warehouse(e: FileNotFoundError) -> str:
    """A missing warehouse's error, its hint saying where the path came from: the variable's hint
    after -w, or under an outcomes.toml that names the file, sent the user the wrong way."""
    from warehouse.connect import MissingWarehouse

    ctx = click.get_current_context(silent=True)
    if isinstance(e, MissingWarehouse) and ctx is not None and "outcomes.warehouse_from" in ctx.meta:
        return f"no warehouse at {e.path}: run `outcomes ingest` first{ctx.meta['outcomes.warehouse_from']}"
    return str(e)


warehouse_option = click.option(
    "--warehouse", "-w", type=click.Path(dir_okay=False), default=None, callback=resolve_warehouse_option,
    help="DuckDB warehouse file (.duckdb, .db or .ddb) [default: `warehouse` in outcomes.toml, "
         "else env OUTCOMES_WAREHOUSE, else ./data/warehouse.duckdb].",
)


def require_key() -> None:
    """A usage error without a usable pseudonymisation key; a warning on stderr when its file is
    open to group or others (ingest and serve: the commands that read it)."""
    from transforms.pseudonymise import MissingKeyError, key_file, key_file_warning, load_key

    try:
        load_key()
    except MissingKeyError as e:
        raise click.UsageError(str(e))
    warning = key_file_warning(key_file()) if key_file() else None
    if warning:
        click.echo(warning, err=True)


def _validate_registry(ctx, param, value):
    from outcomes.config import REGISTRY_RE

    if value is not None and not REGISTRY_RE.match(value):
        raise click.BadParameter("must match [a-z0-9][a-z0-9-]{0,63}", ctx, param)
    return value


def _validate_timezone(ctx, param, value):
    from outcomes.config import is_timezone

    if value is not None and not is_timezone(value):
        raise click.BadParameter(f"unknown time zone {value!r} (an IANA name such as 'Europe/Oslo' or 'UTC')",
                                 ctx, param)
    return value


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0]


_EPHEMERAL_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"


def _unreachable_prefect_api(e: BaseException) -> str | None:
    """The one-line error for a Prefect API that cannot be reached (PREFECT_API_URL names a server
    that is down, or the temporary one did not answer or did not start in time), else None: the
    error, or one it was raised from, is an httpx transport error (Prefect wraps it, e.g. in
    RuntimeError("Failed to reach API ...")) or Prefect's start-up time-out. httpx is looked up,
    not imported: a command that never loaded it met no such error."""
    httpx = sys.modules.get("httpx")
    if httpx is None:
        return None
    seen: set[int] = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, httpx.TransportError):
            url = os.environ.get("PREFECT_API_URL")
            where = f" at {url}" if url else " (the temporary server this command started)"
            return f"cannot reach the Prefect API{where}: {_one_line(cur)}"
        if isinstance(cur, RuntimeError) and str(cur).startswith(_EPHEMERAL_TIMEOUT):
            from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as limit

            return (f"the temporary Prefect server this command started did not answer within {limit.value()} s "
                    "(a busy machine: raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or set "
                    "PREFECT_API_URL to a running server)")
        cur = cur.__cause__ or cur.__context__
    return None


class LazyGroup(click.Group):
    """Commands that live with their feature's code are imported only when called, so that
    `outcomes sql` does not pay for Prefect, plotting or the generator."""

    lazy = {
        "synth": ("synth.command", "synth_command"),
        "report": ("reports.command", "report_command"),
        "marts": ("reports.command", "marts_command"),
        "serve": ("flows.serve_command", "serve_command"),
    }

    def _available(self, name: str) -> bool:
        import importlib.util

        try:
            return importlib.util.find_spec(self.lazy[name][0]) is not None
        except ModuleNotFoundError:
            return False

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | {n for n in self.lazy if self._available(n)})

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands and self._available(name):
            import importlib

            module, attr = self.lazy[name]
            cmd = getattr(importlib.import_module(module), attr, None)
            if cmd is not None:
                self.add_command(cmd, name)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        """Failures a user can meet (a busy or foreign warehouse file, a path that cannot be
        written, a database error, a Prefect API that does not answer) end as one line on stderr
        and exit 1, not as a traceback."""
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except OSError as e:
            if e.errno == errno.EPIPE:
                raise
            where = f": {e.filename}" if e.filename else ""
            raise click.ClickException(f"{e.strerror or _one_line(e)}{where}") from None
        except Exception as e:
            from outcomes.config import ConfigError
            from warehouse.connect import WarehouseError

            if isinstance(e, ConfigError):  # a bad setting (an OUTCOMES_* variable): usage, exit 2
                raise click.UsageError(_one_line(e), ctx) from None
            if isinstance(e, WarehouseError):
                raise click.ClickException(_one_line(e)) from None
            import duckdb

            if isinstance(e, duckdb.Error):
                raise click.ClickException(_one_line(e)) from None
            unreachable = _unreachable_prefect_api(e)
            if unreachable:
                raise click.ClickException(unreachable) from None
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ketamine-outcomes")
def cli():
    """Ketamine and esketamine registry exports in, validated pseudonymised evidence out.

    Exit 0 success; 1 the work failed; 2 a usage error (each command's --help says what its
    failures are)."""


@cli.command()
# exists=False: click's own message would repeat the path unredacted; _targets says it, redacted
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@warehouse_option
@click.option("--adapter", type=click.Choice(["kor", "redcap", "fhir"]), default=None,
              help="Export format; detected when not given. Folders holding exports are searched either way; "
                   "exports found there in another format are skipped.")
@click.option("--registry", "registry_id", default=None, callback=_validate_registry,
              help="Registry id, [a-z0-9][a-z0-9-]{0,63} (REDCap and FHIR exports do not carry one; a kor "
                   "export's manifest does, and --registry must then be the same).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="REDCap mapping file (TOML).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Reject an export when more than this share of a table's rows is quarantined "
                   "[default: the registry's reject_threshold in outcomes.toml, else 0.05].")
@click.option("--timezone", "timezone_name", default=None, callback=_validate_timezone,
              help="IANA time zone of datetimes without an offset, e.g. Europe/Oslo "
                   "[default: the registry's in outcomes.toml, else UTC].")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per export.")
def ingest(paths, warehouse, adapter, registry_id, mapping, threshold, timezone_name, as_json):
    """Load exports: export folders, .zip bundles, or folders holding exports.

    Exports of one registry load in exported_at order, each in its own flow run, exactly once.
    Exit 0 when every export loaded or was a duplicate, 1 when any was rejected or failed (status
    `failed`: a lock, memory or disk error, nothing recorded; or the warehouse was busy or
    unreadable), 2 on a usage or configuration error.
    """
    from flows.ingest import ingest_in_process
    from transforms.redaction import StepFailed, redact_text

    require_key()
    options = {}
    if registry_id:
        options["registry_id"] = registry_id
    if mapping:
        options["mapping"] = mapping
    from outcomes.config import ConfigError, check_environment, load_config, registry_settings

    try:
        check_environment()
        config = load_config()
        for p in paths:
            if not Path(p).exists():
                raise FileNotFoundError(f"{p} does not exist")
        targets = _targets(list(paths), adapter, options, registry_id)
    except FileNotFoundError as e:  # paths are shown as ops.loads.source keeps them: redacted
        raise click.UsageError(redact_text(str(e)))
    except ConfigError as e:
        raise click.UsageError(str(e))
    if not targets:
        raise click.UsageError("no exports found under " + ", ".join(redact_text(p) for p in paths))
    from warehouse.connect import ensure_warehouse

    # a busy, foreign or uncreatable warehouse fails here, in one line, not inside a flow run
    ensure_warehouse(warehouse)
    results = []
    progress = IngestProgress(len(targets), enabled=not as_json and sys.stderr.isatty())
    for target, name, reg in targets:
        # flags win; otherwise the registry's settings in outcomes.toml (defaults: 5 %, UTC)
        settings = registry_settings(reg or registry_id or "*", config)
        try:
            with progress.export():
                r = ingest_in_process(target, warehouse=warehouse,
                                      reject_threshold=settings.reject_threshold if threshold is None else threshold,
                                      timezone_name=timezone_name or settings.timezone, adapter=name, options=options)
        except StepFailed as e:  # transient (lock, memory, disk): nothing recorded, the others go on
            r = {"registry_id": reg or registry_id or "unknown", "export_id": redact_text(Path(target).name),
                 "status": "failed", "load_id": None, "reason": f"{e}; nothing recorded, try again",
                 "source": redact_text(target)}
        results.append(r)
        if not as_json:
            progress.echo(format_result(r))
    progress.close()
    if as_json:
        click.echo(json.dumps(_jsonable(results), indent=2))
    sys.exit(1 if any(r["status"] in ("rejected", "failed") for r in results) else 0)


class IngestProgress:
    """`ingest`'s progress bar on stderr (a terminal only): a step per ingest step of each export
    (flows.ingest.STEPS), so that one large export, minutes of work, shows where it is."""

    def __init__(self, exports: int, enabled: bool, file=None):
        from tqdm import tqdm

        from flows.ingest import STEPS

        self.steps, self.exports, self.done = STEPS, exports, 0
        self.bar = tqdm(total=exports * len(STEPS), desc="ingest", unit="step", disable=not enabled,
                        file=file or sys.stderr, bar_format="{desc}: {percentage:3.0f}%|{bar}| {elapsed}{postfix}")

    @contextmanager
    def export(self):
        from flows.ingest import ingest_progress

        self.done += 1
        start = self.bar.n
        self.bar.set_description_str(f"export {self.done}/{self.exports}")
        self.bar.set_postfix_str(self.steps[0])

        def on_step(name: str) -> None:
            self.bar.update(1)
            later = self.steps[self.steps.index(name) + 1:] if name in self.steps else ()
            self.bar.set_postfix_str(later[0] if later else "")

        try:
            with ingest_progress(on_step):
                yield
        finally:  # an export that ended early (duplicate, rejected, failed) skips its other steps
            self.bar.set_postfix_str("", refresh=False)
            self.bar.update(start + len(self.steps) - self.bar.n)

    def echo(self, text: str) -> None:
        """A line of output on stdout, the bar redrawn below it."""
        if self.bar.disable:
            click.echo(text)
        else:
            self.bar.clear()
            click.echo(text)
            self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def _targets(paths: list[str], adapter: str | None, options: dict, registry_id: str | None) -> list[tuple]:
    """(export, adapter, registry) in load order: exports of one registry by exported_at.

    Without --adapter every export found is taken in its detected format. With --adapter, an
    argument that is itself an export of that format is taken as it is; otherwise the exports of
    that format found inside it (flows.ingest.plan); exports of other formats found there are
    skipped, with a note. An argument in which no export at all is found is handed to the adapter
    as it is (it says why it cannot read it), except for kor, whose exports are recognised by
    manifest.json or .zip alone, so there is nothing more to try."""
    from flows.ingest import plan
    from transforms import adapters

    if adapter is None:
        return _checked([(p, a, reg) for reg, _, p, a in plan(paths, options)], options, registry_id)
    detect = adapters.get(adapter).detect
    ordered, broken, skipped = [], [], {}
    for arg in paths:
        p = Path(arg)
        if p.is_file() and p.name == "manifest.json":
            p = p.parent
        if detect(p):
            found = [(*_order_key(p, adapter, options), str(p), adapter)]
        else:
            try:
                found = plan([str(p)], options)
            except FileNotFoundError:
                found = []
            if not found and adapter != "kor":
                found = [("", "", str(p), adapter)]
            for *_, name in found:
                if name != adapter:
                    skipped[name] = skipped.get(name, 0) + 1
            found = [e for e in found if e[3] == adapter]
        for reg, at, path, name in found:
            (ordered if reg else broken).append((reg, at, path, name))
    for name, n in sorted(skipped.items()):
        click.echo(f"skipped {n} {name} export{'s' if n != 1 else ''} (--adapter {adapter})", err=True)
    return _checked([(p, a, reg) for reg, _, p, a in sorted(ordered) + broken], options, registry_id)


def _checked(targets: list[tuple], options: dict, registry_id: str | None) -> list[tuple]:
    """Usage errors an export shows before anything is recorded: --registry naming another
    registry than a kor export's manifest (which wins: the option would be ignored), and a REDCap
    export with no mapping (a missing option, not a fault of the export to record as a rejection)."""
    from transforms.adapters.redcap_export import MAPPING, is_redcap_folder

    for path, name, reg in targets:
        if name == "kor" and registry_id and reg and reg != registry_id:
            raise click.UsageError(f"--registry {registry_id}: {path} is an export of registry {reg} (its "
                                   "manifest.json says so, and a kor export's registry comes from there)")
        if (name == "redcap" and not options.get("mapping") and is_redcap_folder(Path(path))
                and not (Path(path) / MAPPING).is_file()):
            raise click.UsageError(f"{path}: a REDCap export needs a mapping: pass --mapping FILE or put "
                                   f"{MAPPING} in the export")
    return targets


def _order_key(path: Path, adapter: str, options: dict) -> tuple[str, str]:
    """(registry, exported_at) as flows.ingest.plan reads them, ("", "") when the export cannot be
    opened (the ingest then rejects it and says why)."""
    from transforms import adapters

    try:
        opener = adapters.get(adapter).open
        b = opener(str(path), verify_checksums=False) if adapter == "kor" else opener(str(path), **options)
    except Exception:  # noqa: BLE001 - the ingest itself reports why, with the rule
        return "", ""
    try:
        return b.registry_id, b.exported_at.isoformat()
    finally:
        b.close()


def format_result(r: dict) -> str:
    head = f"{r['registry_id']} {r.get('export_id') or '?'}: {r['status']}"
    if r.get("load_id") is not None:
        head += f" (load {r['load_id']})"
    lines = [head]
    if r.get("reason"):
        lines.append(f"  reason: {r['reason']}")
    for table, c in (r.get("tables") or {}).items():
        extra = ""
        if c.get("withdrawn"):
            extra += f", {c['withdrawn']} withdrawn"
        if c.get("warned"):
            extra += f", {c['warned']} flagged"
        if c.get("valid"):
            extra += f", {c['valid']} valid (not loaded: the export was rejected)"
        if c.get("parked"):
            extra += f", {c['parked']} parked"
        lines.append(f"  {table:<15} {c.get('loaded', 0):>9} loaded {c.get('quarantined', 0):>7} quarantined{extra}")
    for table, cols in (r.get("dropped_columns") or {}).items():
        lines.append(f"  {table}: dropped columns {', '.join(cols)}")
    for table, c in (r.get("tables") or {}).items():  # what explains a withdrawn count, or its absence
        notes = c.get("notes") or {}
        if notes.get("deletions"):
            lines.append(f"  {table}: deletions " + ", ".join(f"{k} {v}" for k, v in notes["deletions"].items()))
        if notes.get("withdrawals_skipped"):
            lines.append(f"  {table}: withdrawals skipped: {notes['withdrawals_skipped']}")
    if r.get("unparked"):
        lines.append("  loaded from earlier exports' parked rows (their parent is here now): "
                     + ", ".join(f"{t} {n}" for t, n in r["unparked"].items()))
    restored = {t: c["restored_with_session"] for t, c in (r.get("tables") or {}).items()
                if c.get("restored_with_session")}
    if restored:
        lines.append("  current again with the session this export brought back (the cascade had taken them): "
                     + ", ".join(f"{t} {n}" for t, n in restored.items()))
    if r.get("rules_broken"):
        top = sorted(r["rules_broken"].items(), key=lambda kv: -kv[1])[:10]
        lines.append("  quarantined by rule: " + ", ".join(f"{k} {v}" for k, v in top))
    if r.get("alerts"):
        lines.append("  alerts: " + ", ".join(f"{k} {v}" for k, v in r["alerts"].items()))
    return "\n".join(lines)


class _QueryCommand(click.Command):
    """A query may start with an SQL comment ('-- why'), which click would take for an option: an
    argument that starts with '-' and holds a space or a line break is no option name, so it goes
    after '--' (unless the user gave one)."""

    def parse_args(self, ctx, args):
        if "--" not in args:
            odd = [a for a in args if a.startswith("-") and any(c.isspace() for c in a)]
            if len(odd) == 1:
                args = [a for a in args if a is not odd[0]] + ["--", odd[0]]
        return super().parse_args(ctx, args)


@cli.command(cls=_QueryCommand)
@click.argument("query")
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def sql(query, warehouse, fmt):
    """Run a read-only SQL query against the warehouse.

    One statement; external access is off: a query can neither write nor read files. With --format json, columns
    of SQL type JSON are nested as JSON, DECIMALs are exact numbers, INTERVALs DuckDB's text, NaN and
    infinities null, and a repeated column name gets _2, _3, ... Exit 0 ok; 1 on a SQL error, a missing, busy
    (OUTCOMES_LOCK_TIMEOUT) or unreadable warehouse; 2 on a usage error.
    """
    import duckdb

    from warehouse.connect import open_readonly

    try:
        con = open_readonly(warehouse)
    except FileNotFoundError as e:
        raise click.ClickException(no_warehouse(e)) from None
    try:
        n = len(con.extract_statements(query))
        if n != 1:  # DuckDB would print only the last one's rows, or fail on none
            con.close()
            raise click.UsageError("one SQL statement at a time" if n else "QUERY holds no SQL statement")
        rel = con.sql(query)  # bound, not run: the columns' types decide how to fetch it
        description = rel.description if rel is not None else []
        columns = [d[0] for d in description]
        json_columns = frozenset(i for i, d in enumerate(description) if str(d[1]) == "JSON")
        nested = [i for i, d in enumerate(description) if "INTERVAL" in str(d[1]) and str(d[1]) != "INTERVAL"]
        if any("INTERVAL" in str(d[1]) for d in description):
            rel = rel.project(_intervals_as_text(description))
        rows = rel.fetchall() if columns else []
        if nested:  # lists, structs and maps holding INTERVALs came as DuckDB's JSON of them
            rows = [tuple(json.loads(v) if i in nested and v is not None else v for i, v in enumerate(r)) for r in rows]
    except duckdb.Error as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    finally:
        con.close()
    emit_rows(columns, rows, fmt, json_columns)


def _intervals_as_text(description: list) -> str:
    """A projection of the query's columns, its INTERVALs as DuckDB's text: DuckDB hands an INTERVAL
    to Python as a timedelta, in which a month is 30 days. An INTERVAL column is cast to text; a
    list, struct or map holding one goes through to_json, which writes DuckDB's text for each. A
    projection of the bound relation, so the query runs once."""
    def column(i: int, t: str) -> str:
        if t == "INTERVAL":
            return f"CAST(#{i} AS VARCHAR)"
        return f"to_json(#{i})" if "INTERVAL" in t else f"#{i}"

    return ", ".join(column(i, str(d[1])) for i, d in enumerate(description, 1))


STATUS_RULES_SHOWN = 30  # rules of the quarantine the text lists (--json: all)


@cli.command()
@warehouse_option
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many recent load attempts to list; 0 lists them all.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(warehouse, limit, as_json):
    """Recent loads, current row counts, quarantine counts by rule, rows parked until their parent
    arrives and notifications the service has not sent yet (these two shown only when there are some).

    Exit 0 ok; 1 when the warehouse is missing, busy (OUTCOMES_LOCK_TIMEOUT) or unreadable; 2 on a
    usage error."""
    from warehouse.connect import open_readonly, require_warehouse
    from warehouse.status import status_report

    try:
        con = open_readonly(warehouse)
    except FileNotFoundError as e:
        raise click.ClickException(no_warehouse(e)) from None
    try:
        require_warehouse(con, warehouse)
        report = status_report(con, limit or None)
    finally:
        con.close()
    columns, loads = report.pop("loads_table")
    if as_json:
        click.echo(json.dumps(_jsonable(report), indent=2))
        return
    click.echo("Recent loads")
    emit_rows(columns, loads, "table")
    click.echo("\nCurrent rows")
    emit_rows(["registry_id", "table", "rows"], [(r["registry_id"], r["table"], r["rows"]) for r in report["current"]], "table")
    click.echo("\nQuarantine by rule (rows of loaded exports)")
    shown = report["quarantine"][:STATUS_RULES_SHOWN]
    emit_rows(["registry_id", "table", "rule", "rows"],
              [(q["registry_id"], q["table"], q["rule"], q["rows"]) for q in shown], "table")
    if len(report["quarantine"]) > len(shown):
        click.echo(f"... and {len(report['quarantine']) - len(shown)} more rules (--json lists them all)")
    if report["parked"]:
        click.echo("\nParked rows (quarantined for a missing parent: they load when a load brings it)")
        emit_rows(["registry_id", "table", "rows", "oldest_export"], [tuple(p.values()) for p in report["parked"]], "table")
    if report["unsent_notifications"]:
        click.echo("\nNotifications waiting to be sent (docs/operations.md: the outbox)")
        emit_rows(["registry_id", "instance", "loads", "oldest_queued"],
                  [tuple(u.values()) for u in report["unsent_notifications"]], "table")


@cli.command()
@warehouse_option
@click.option("--json", "as_json", is_flag=True,
              help='Print {"warehouse": PATH, "version": N, "applied": [versions applied now], '
                   '"migrations": [{"version", "name", "applied_at"}]}.')
def migrate(warehouse, as_json):
    """Create the warehouse or apply pending migrations.

    Exit 0 ok; 1 when the file cannot be created, is busy or is not a DuckDB warehouse; 2 on a
    usage error (e.g. a name ending in .csv)."""
    from warehouse.connect import ensure_warehouse, open_readonly, warehouse_path
    from warehouse.migrate import current_version

    before = 0
    if as_json and warehouse_path(warehouse).exists():
        try:
            con = open_readonly(warehouse_path(warehouse), external_access=True)
            try:
                before = current_version(con)
            finally:
                con.close()
        except Exception:  # noqa: BLE001 - not a warehouse: ensure_warehouse says so
            before = 0
    path = ensure_warehouse(warehouse)
    if not as_json:
        click.echo(f"warehouse ready: {path}")
        return
    con = open_readonly(path, external_access=True)
    try:
        rows = [{"version": v, "name": n, "applied_at": a} for v, n, a in con.execute(
            "SELECT version, name, strftime(applied_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%SZ') "
            "FROM ops.schema_migrations ORDER BY version").fetchall()]
    finally:
        con.close()
    click.echo(json.dumps({"warehouse": str(path), "version": rows[-1]["version"] if rows else 0,
                           "applied": [r["version"] for r in rows if r["version"] > before], "migrations": rows},
                          indent=2))


@cli.group()
def key():
    """The pseudonymisation key (kept outside the warehouse).

    Exit 0 ok; 1 when the key file cannot be written; 2 on a usage error."""


@key.command("init")
@click.option("--path", type=click.Path(dir_okay=False), default=None,
              help="Where to write it [default ~/.config/ketamine-outcomes/pseudonym.key].")
@click.option("--print-env", is_flag=True, help="Print the export line for your shell.")
def key_init(path, print_env):
    """Create a random key file (mode 0600) unless one exists; never prints the key. An existing
    file is checked as `ingest` reads it; a warning when group or others may read it.

    Exit 0 ok (created, or already there and usable); 1 when the file cannot be written, or
    exists but is empty, too short or unreadable; 2 on a usage error."""
    from transforms.pseudonymise import MissingKeyError, key_file_warning, read_key_file

    p = Path(path or Path.home() / ".config" / "ketamine-outcomes" / "pseudonym.key").expanduser()
    if not p.exists():
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as e:
            raise click.ClickException(f"cannot create key file {p}: {e.strerror or e}")
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        click.echo(f"created {p} (mode 0600)", err=True)
    else:
        try:
            read_key_file(p)
        except MissingKeyError as e:  # ingest would refuse it: say so now, not at the first load
            raise click.ClickException(f"{e}: restore it, or remove it for a new key (patient keys made with "
                                       "a new key do not match earlier loads')") from None
        click.echo(f"key file exists: {p}", err=True)
        warning = key_file_warning(p)
        if warning:
            click.echo(warning, err=True)
    if print_env:  # quoted: the line is for eval, and a path may hold spaces, $ or quotes
        click.echo(f"export OUTCOMES_PSEUDONYM_KEY_FILE={shlex.quote(str(p))}")


def _exit_on_sigterm() -> None:
    """SIGTERM (systemd, kill, a CI timeout) unwinds like Ctrl-C: finally blocks and atexit hooks
    run, so the temporary Prefect server a command started is stopped with it, not orphaned."""
    import signal

    def handler(signum, frame):
        raise SystemExit(128 + signum)

    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, handler)


def main() -> None:
    _exit_on_sigterm()
    cli(prog_name="outcomes")


if __name__ == "__main__":
    main()
