"""`outcomes report` and `outcomes marts` (registered lazily by outcomes/cli.py).
Exit codes: 0 ok; 1 no data for that month/registry, or the work failed; 2 usage (click)."""
from __future__ import annotations

import json
import sys

import click


@click.command("report")
@click.option("--month", required=True, help="Report month, YYYY-MM.")
@click.option("--registry", default=None, help="Only this registry [default: all registries pooled].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Output folder [default ./data/reports/<month>[-<registry>]].")
@click.option("--as-of", "as_of", type=int, default=None, help="Report the warehouse as it stood after this load id.")
@click.option("--json", "as_json", is_flag=True, help='Print {"html": ..., "pdf": ..., "data": ...}.')
@click.option("--warehouse", "-w", type=click.Path(dir_okay=False), default=None,
              help="DuckDB warehouse file [env OUTCOMES_WAREHOUSE; default ./data/warehouse.duckdb].")
def report_command(month, registry, out_dir, as_of, as_json, warehouse):
    """Write report.html, report.pdf and figures.csv for one month (in-month and cumulative)."""
    from reports.report import NoData, generate_report, month_bounds

    try:
        month_bounds(month)
    except ValueError as e:
        raise click.UsageError(str(e))
    # under data/, beside the warehouse: ./reports is the code package's folder
    out_dir = out_dir or f"./data/reports/{month}" + (f"-{registry}" if registry else "")
    try:
        res = generate_report(month, out_dir, registry=registry, as_of_load=as_of, warehouse_path=warehouse)
    except NoData as e:
        click.echo(f"no data: {e}", err=True)
        sys.exit(1)
    except (FileNotFoundError, RuntimeError) as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps({"html": res["html"], "pdf": res["pdf"], "data": res["data"]}))
    else:
        click.echo(f"report: {res['html']}\npdf:    {res['pdf']}\ndata:   {res['data']} "
                   f"({res['figures']} figures, {res['suppressed']} suppressed)")


@click.command("marts")
@click.option("--warehouse", "-w", type=click.Path(dir_okay=False), default=None,
              help="DuckDB warehouse file [env OUTCOMES_WAREHOUSE; default ./data/warehouse.duckdb].")
@click.option("--json", "as_json", is_flag=True, help="Print the build summary as JSON.")
def marts_command(warehouse, as_json):
    """Rebuild the marts schema in the warehouse from the current data."""
    from reports.marts import rebuild_marts

    try:
        info = rebuild_marts(warehouse)
    except FileNotFoundError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(info, default=str, indent=2))
    else:
        click.echo(f"marts rebuilt in {info['timings']['total']} s (last load {info['last_load_id']}): "
                   + ", ".join(f"{k} {v}" for k, v in info["tables"].items()))
