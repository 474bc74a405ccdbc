"""`outcomes synth`: write a synthetic registry's export series to a folder.

Why a command: CI, benchmarks and demos need realistic exports of any size without real
patient data; the same arguments always give the same bytes, so a failing run can be replayed.
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import click

from .generator import INJECTED_LOG, generate_registry
from .ids import MAX_PATIENTS
from .schema import FILE_FORMATS


def _registry(ctx, param, value: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,63}", value):
        raise click.BadParameter("must match [a-z0-9][a-z0-9-]{0,63}")
    return value


@click.command("synth")
@click.option("--registry", "registry_id", required=True, callback=_registry,
              help="registry_id written to every manifest.")
@click.option("--patients", type=click.IntRange(1, MAX_PATIENTS), required=True, help="Cohort size.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder that receives one sub-folder per export: new or empty.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Same seed and arguments = byte-identical output.")
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), default="2025-01-01", show_default=True,
              help="First day of the registry; month 1 is this date's calendar month.")
@click.option("--months", type=click.IntRange(1, 240), default=6, show_default=True,
              help="Number of monthly exports (first and last full, the rest incremental).")
@click.option("--file-format", type=click.Choice(list(FILE_FORMATS)), default="csv", show_default=True)
@click.option("--bad-rows", type=click.FloatRange(0.0, 0.5, max_open=True), default=0.0, show_default=True,
              help=f"Share of rows per table to break; each is logged in OUT/{INJECTED_LOG}. With --format "
                   "redcap or fhir the rows are broken in the native export they are converted from (no "
                   "malformed CSV lines: those formats cannot carry one) and the log's `native_line` is the "
                   "row there (CSV line, header = 1; Parquet record number), not a row of the converted output.")
@click.option("--format", "export_format", type=click.Choice(["kor", "redcap", "fhir"]), default="kor",
              show_default=True, help="Export format: the native contract, a REDCap project export, or FHIR Bulk Data.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of one line per export.")
def synth_command(registry_id, patients, out_dir, seed, start, months, file_format, bad_rows, export_format, as_json):
    """Generate a synthetic ketamine/esketamine registry as monthly exports.

    With --format redcap or fhir the same cohort is written in that format (one folder per export),
    converted from the native exports, so the three formats hold the same facts, except that a
    REDCap export leaves out the GAD7, QIDS_SR16 and CSSRS_IDEATION assessments (the reference
    REDCap project has no form for them). The row counts printed are the rows each written export holds.

    Exit 0 ok; 1 when the output cannot be written; 2 on a usage error (such as an --out folder
    that is not empty)."""
    if out_dir.is_dir() and any(out_dir.iterdir()):  # another series' exports would be ingested with these
        raise click.BadParameter(f"{out_dir} is not empty: give a new or empty folder (its exports would mix "
                                 "with these)", param_hint="'--out'")
    if export_format == "kor":
        summary = _write(out_dir, out_dir, registry_id, patients, seed, start, months, file_format, bad_rows,
                         export_format)
    else:
        # the native series goes to a scratch folder beside the output, removed whatever happens
        out_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".synth-", dir=out_dir))
        try:
            summary = _write(scratch, out_dir, registry_id, patients, seed, start, months, file_format, bad_rows,
                             export_format)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    for s in summary:
        rows = " ".join(f"{t}={n}" for t, n in s["rows"].items())
        click.echo(f"{s['export_id']} {s['mode']:<11} {rows}")


def _write(target: Path, out_dir: Path, registry_id, patients, seed, start, months, file_format, bad_rows,
           export_format) -> list[dict]:
    converted = export_format != "kor"
    folders = generate_registry(target, registry_id, patients, seed=seed, start=start.date(), months=months,
                                file_format=file_format, bad_rows=bad_rows, progress=patients >= 5000,
                                malformed=False if converted else None)
    summary = []
    for folder in folders:
        m = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        path = folder
        rows = {f["table"]: f["rows"] for f in m["files"]}
        if converted:
            import importlib

            converter = importlib.import_module(f"synth.formats.{export_format}")
            carried: dict[str, int] = {}
            path = converter.convert(folder, out_dir / folder.name, carried)
            rows = {table: carried.get(table, 0) for table in rows}  # what the converted export holds
        summary.append({"export_id": m["export_id"], "mode": m["mode"], "path": str(path), "format": export_format,
                        "rows": rows})
    if converted:
        _move_log(target / INJECTED_LOG, out_dir / INJECTED_LOG, export_format)
    return summary


def _move_log(src: Path, dst: Path, export_format: str) -> None:
    """The bad-row log of a converted series: the same records, the line renamed `native_line`
    (`first_line` -> `native_first_line`) since it numbers the native export (as `ingest` would
    number it: CSV line, header = 1; Parquet record number), not the converted output."""
    with open(src, encoding="utf-8") as fin, open(dst, "w", encoding="utf-8") as fout:
        for text in fin:
            rec = json.loads(text)
            out = {"export_id": rec["export_id"], "table": rec["table"], "rule": rec["rule"], "format": export_format,
                   "native_line": rec["line"]}
            if "first_line" in rec:
                out["native_first_line"] = rec["first_line"]
            fout.write(json.dumps(out) + "\n")
