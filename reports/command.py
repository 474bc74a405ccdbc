"""`outcomes report` and `outcomes marts` (registered lazily by outcomes/cli.py).
Exit codes: 0 ok; 1 no data for that month/registry, or the work failed; 2 usage (click)."""
from __future__ import annotations

import json
import sys

import click

from outcomes.cli import _validate_registry, no_warehouse, warehouse_option


@click.command("report")
@click.option("--month", required=True, help="Report month, YYYY-MM.")
@click.option("--registry", default=None, callback=_validate_registry,
              help="Only this registry [default: all registries pooled].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder [default ./data/reports/<month>[-<registry>]].")
@click.option("--as-of", "as_of", type=click.IntRange(min=1), default=None,
              help="Report the warehouse as it stood after this load id (see `outcomes status`).")
@click.option("--draft", is_flag=True,
              help="Compare with the published reports but record nothing: files named report-draft.html, "
                   "report-draft.pdf, figures-draft.csv, marked DRAFT; not for publication.")
@click.option("--json", "as_json", is_flag=True, help='Print {"html": ..., "pdf": ..., "data": ..., "figures": N, "suppressed": N, '
                   '"report_id": N} (the three files\' paths, pdf null when it could not be printed; how many figures '
                   'figures.csv holds and how many of them are suppressed; the ledger\'s report id, null for a draft).')
@warehouse_option
def report_command(month, registry, out_dir, as_of, draft, as_json, warehouse):
    """Write report.html, report.pdf and figures.csv for one month (in-month and cumulative), and
    record the counts they show in the warehouse's publication ledger (ops.publications,
    ops.published_counts): a count that differs by 1 to 10 from one an earlier report showed is
    suppressed, since the two reports together would reveal the difference.

    Exit 0 ok; 1 no data for that month/registry, no such --as-of load, or the work failed (warehouse
    missing, busy or unreadable; a report that could not be recorded leaves no files; a PDF that
    could not be printed: the HTML and CSV are written and recorded all the same, and said so); 2 on
    a usage error."""
    from reports.report import NoData, PdfFailed, generate_report, month_bounds

    try:
        month_bounds(month)
    except ValueError as e:
        raise click.UsageError(str(e))
    # under data/, beside the warehouse: ./reports is the code package's folder
    out_dir = out_dir or f"./data/reports/{month}" + (f"-{registry}" if registry else "")
    if as_of is not None:
        _check_load_exists(warehouse, as_of)
    failed = None
    try:
        res = generate_report(month, out_dir, registry=registry, as_of_load=as_of, warehouse_path=warehouse, draft=draft)
    except NoData as e:
        click.echo(f"Error: no data: {e}", err=True)
        sys.exit(1)
    except PdfFailed as e:  # the HTML and CSV are out (and recorded): say which, then fail
        res, failed = e.result, e
    except FileNotFoundError as e:
        click.echo(f"Error: {no_warehouse(e)}", err=True)
        sys.exit(1)
    except RuntimeError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({k: res[k] for k in ("html", "pdf", "data", "figures", "suppressed", "report_id")},
                              indent=2))
    else:
        click.echo(f"report: {res['html']}\npdf:    {res['pdf'] or 'not written (below)'}\ndata:   {res['data']} "
                   f"({res['figures']} figures, {res['suppressed']} suppressed)\n"
                   + (f"ledger: recorded as report {res['report_id']} (ops.publications)" if res["report_id"]
                      else "ledger: draft, not recorded: not for publication"))
    if failed is not None:
        click.echo(f"Error: {failed}", err=True)
        sys.exit(1)


def _check_load_exists(warehouse: str, load_id: int) -> None:
    from transforms import sqlfiles
    from warehouse.connect import open_readonly

    try:
        con = open_readonly(warehouse)
    except FileNotFoundError as e:
        raise click.ClickException(no_warehouse(e)) from None
    try:
        found = sqlfiles.run(con, "warehouse", "report/as_of_load_exists.sql", [load_id]).fetchone()[0]
    finally:
        con.close()
    if not found:
        raise click.ClickException(f"--as-of {load_id}: no such load in the warehouse (`outcomes status` lists them)")


@click.command("marts")
@warehouse_option
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
def marts_command(warehouse, as_json):
    """Rebuild the marts schema in the warehouse from the current data.

    Exit 0 ok; 1 when the warehouse is missing, busy (OUTCOMES_LOCK_TIMEOUT) or unreadable; 2 on a
    usage error."""
    from reports.marts import rebuild_marts

    try:
        info = rebuild_marts(warehouse)
    except FileNotFoundError as e:
        click.echo(f"Error: {no_warehouse(e)}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(info, default=str, indent=2))
    else:
        click.echo(f"marts rebuilt in {info['timings']['total']} s (last load {info['last_load_id']}): "
                   + ", ".join(f"{k} {v}" for k, v in info["tables"].items()))
