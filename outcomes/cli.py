"""`outcomes`: the command line. Thin: every command calls plain functions or flows.

Exit codes: 0 success; 1 the work failed (an export rejected, a query failed); 2 usage errors
(click's own). `sql` and `status` never import Prefect, so they answer fast.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import click


def _jsonable(v):
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def render_table(columns: list[str], rows: list[tuple], max_width: int = 60) -> str:
    def cell(v) -> str:
        if v is None:
            return "NULL"
        s = json.dumps(_jsonable(v)) if isinstance(v, (dict, list)) else str(_jsonable(v))
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    body = [[cell(v) for v in r] for r in rows]
    widths = [max([len(c)] + [len(r[i]) for r in body]) for i, c in enumerate(columns)]
    line = "-+-".join("-" * w for w in widths)
    out = [" | ".join(c.ljust(w) for c, w in zip(columns, widths)), line]
    out += [" | ".join(v.ljust(w) for v, w in zip(r, widths)) for r in body]
    out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out)


def emit_rows(columns: list[str], rows: list[tuple], fmt: str) -> None:
    if fmt == "json":
        click.echo(json.dumps([dict(zip(columns, map(_jsonable, r))) for r in rows], indent=2, default=str))
    elif fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        for r in rows:
            w.writerow([json.dumps(_jsonable(v)) if isinstance(v, (dict, list)) else ("" if v is None else _jsonable(v))
                        for v in r])
        click.echo(buf.getvalue(), nl=False)
    else:
        click.echo(render_table(columns, rows))


warehouse_option = click.option(
    "--warehouse", "-w", type=click.Path(dir_okay=False), default=None,
    help="DuckDB warehouse file [env OUTCOMES_WAREHOUSE; default ./data/warehouse.duckdb].",
)


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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ketamine-outcomes")
def cli():
    """Ketamine and esketamine registry exports in, validated pseudonymised evidence out."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@warehouse_option
@click.option("--adapter", type=click.Choice(["kor", "redcap", "fhir"]), default=None,
              help="Export format; detected when not given.")
@click.option("--registry", "registry_id", default=None, help="Registry id (REDCap and FHIR exports do not carry one).")
@click.option("--mapping", type=click.Path(exists=True, dir_okay=False), default=None,
              help="REDCap mapping file (TOML).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None,
              help="Reject an export when more than this share of a table's rows is quarantined "
                   "[default: the registry's reject_threshold in outcomes.toml, else 0.05].")
@click.option("--timezone", "timezone_name", default=None,
              help="Time zone of datetimes without an offset [default: the registry's in outcomes.toml, else UTC].")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per export.")
def ingest(paths, warehouse, adapter, registry_id, mapping, threshold, timezone_name, as_json):
    """Load exports: export folders, .zip bundles, or folders holding exports.

    Exports of one registry load in exported_at order, each in its own flow run, exactly once.
    Exit 0 when every export loaded or was a duplicate, 1 when any was rejected.
    """
    from flows.ingest import ingest_in_process, plan
    from transforms.pseudonymise import MissingKeyError, load_key

    try:
        load_key()
    except MissingKeyError as e:
        raise click.UsageError(str(e))
    options = {}
    if registry_id:
        options["registry_id"] = registry_id
    if mapping:
        options["mapping"] = mapping
    from outcomes.config import ConfigError, load_config, registry_settings

    try:
        config = load_config()
        if adapter is None:
            targets = [(p, a, reg) for reg, _, p, a in plan(list(paths), options)]
        else:
            targets = [(p, adapter, registry_id or "") for p in paths]
    except FileNotFoundError as e:
        raise click.UsageError(str(e))
    except ConfigError as e:
        raise click.UsageError(str(e))
    if not targets:
        raise click.UsageError("no exports found under " + ", ".join(paths))
    results = []
    show_bar = not as_json and sys.stderr.isatty() and len(targets) > 1
    from tqdm import tqdm

    for target, name, reg in tqdm(targets, desc="exports", unit="export", disable=not show_bar, file=sys.stderr):
        # flags win; otherwise the registry's settings in outcomes.toml (defaults: 5 %, UTC)
        settings = registry_settings(reg or registry_id or "*", config)
        r = ingest_in_process(target, warehouse=warehouse or _config_warehouse(config),
                              reject_threshold=settings.reject_threshold if threshold is None else threshold,
                              timezone_name=timezone_name or settings.timezone, adapter=name, options=options)
        results.append(r)
        if not as_json:
            click.echo(format_result(r))
    if as_json:
        click.echo(json.dumps(_jsonable(results), indent=2))
    sys.exit(1 if any(r["status"] == "rejected" for r in results) else 0)


def _config_warehouse(config) -> str | None:
    """The warehouse named in outcomes.toml, as `outcomes serve` resolves it (--warehouse wins)."""
    from outcomes.config import warehouse_for

    return str(warehouse_for(config)) if config.warehouse else None


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
        lines.append(f"  {table:<15} {c.get('loaded', 0):>9} loaded {c.get('quarantined', 0):>7} quarantined{extra}")
    for table, cols in (r.get("dropped_columns") or {}).items():
        lines.append(f"  {table}: dropped columns {', '.join(cols)}")
    if r.get("rules_broken"):
        top = sorted(r["rules_broken"].items(), key=lambda kv: -kv[1])[:10]
        lines.append("  quarantined by rule: " + ", ".join(f"{k} {v}" for k, v in top))
    if r.get("alerts"):
        lines.append("  alerts: " + ", ".join(f"{k} {v}" for k, v in r["alerts"].items()))
    return "\n".join(lines)


@cli.command()
@click.argument("query")
@warehouse_option
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def sql(query, warehouse, fmt):
    """Run a read-only SQL query against the warehouse.

    External access is off: a query can neither write nor read files. Exit 1 on a SQL error.
    """
    import duckdb

    from warehouse.connect import open_readonly

    try:
        con = open_readonly(warehouse)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    try:
        cur = con.execute(query)
        columns = [d[0] for d in cur.description] if cur.description else []
        rows = cur.fetchall() if columns else []
    except duckdb.Error as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    finally:
        con.close()
    emit_rows(columns, rows, fmt)


@cli.command()
@warehouse_option
@click.option("--limit", default=10, show_default=True, help="How many recent load attempts to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(warehouse, limit, as_json):
    """Recent loads, current row counts and quarantine counts by rule."""
    from warehouse.connect import open_readonly
    from warehouse.status import status_report

    try:
        con = open_readonly(warehouse)
    except FileNotFoundError as e:
        raise click.ClickException(str(e))
    try:
        report = status_report(con, limit)
    finally:
        con.close()
    if as_json:
        click.echo(json.dumps(_jsonable(report), indent=2))
        return
    click.echo("Recent loads")
    emit_rows(*report["loads_table"], "table")
    click.echo("\nCurrent rows")
    emit_rows(["registry_id", "table", "rows"], [(r["registry_id"], r["table"], r["rows"]) for r in report["current"]], "table")
    click.echo("\nQuarantine by rule")
    emit_rows(["registry_id", "table", "rule", "rows"],
              [(q["registry_id"], q["table"], q["rule"], q["rows"]) for q in report["quarantine"]], "table")


@cli.command()
@warehouse_option
def migrate(warehouse):
    """Create the warehouse or apply pending migrations."""
    from warehouse.connect import ensure_warehouse

    click.echo(f"warehouse ready: {ensure_warehouse(warehouse)}")


@cli.group()
def key():
    """The pseudonymisation key (kept outside the warehouse)."""


@key.command("init")
@click.option("--path", type=click.Path(dir_okay=False), default=None,
              help="Where to write it [default ~/.config/ketamine-outcomes/pseudonym.key].")
@click.option("--print-env", is_flag=True, help="Print the export line for your shell.")
def key_init(path, print_env):
    """Create a random key file (mode 0600) unless one exists; never prints the key."""
    import secrets

    p = Path(path or Path.home() / ".config" / "ketamine-outcomes" / "pseudonym.key").expanduser()
    if not p.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        click.echo(f"created {p} (mode 0600)", err=True)
    else:
        click.echo(f"key file exists: {p}", err=True)
    if print_env:
        click.echo(f"export OUTCOMES_PSEUDONYM_KEY_FILE={p}")


def main() -> None:
    cli(prog_name="outcomes")


if __name__ == "__main__":
    main()
