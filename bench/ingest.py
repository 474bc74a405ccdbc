"""Ingest benchmark: the pipeline against two baselines on the same files, in the same run.

    python bench/ingest.py --rows 1000000            # 1M assessment rows (default)
    python bench/ingest.py --rows 10000000 --skip-naive
    python bench/ingest.py --rows 1000000 --repeat 3   # median of 3 interleaved runs each

1. pipeline: the real Prefect flow `ingest_export` (read, pseudonymise, validate with the full
   GX suites, quarantine, one-transaction load) into a fresh warehouse;
2. duckdb: DuckDB's own read_csv of the same files, with explicit types, into tables;
3. naive: pandas reads each file, the same staging SQL types it, Great Expectations validates
   the whole frame row by row with the same suites, failing rows are dropped and the rest
   inserted into DuckDB.
Each runs in its own subprocess so its peak RSS is its own (os.wait4). The export is the last
(full) export of a synthetic registry sized to give --rows assessment rows.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_export(rows: int, out: Path, seed: int = 11) -> Path:
    from synth import generate_registry

    months = 12
    probe = generate_registry(out / "probe", "bench", 400, seed=seed, start=date(2024, 1, 1), months=months)
    per_patient = _assessments(probe[-1]) / 400
    patients = max(50, int(rows / per_patient) + 1)
    folders = generate_registry(out / "series", "bench", patients, seed=seed, start=date(2024, 1, 1), months=months,
                                progress=True)
    return folders[-1]


def _assessments(folder: Path) -> int:
    m = json.loads((folder / "manifest.json").read_text())
    return next(f["rows"] for f in m["files"] if f["table"] == "assessments")


def _total_rows(folder: Path) -> int:
    return sum(f["rows"] for f in json.loads((folder / "manifest.json").read_text())["files"])


def run_child(mode: str, export: Path, work: Path) -> dict:
    """One contender in its own process and scratch folder, removed after it (a 10M run's warehouses
    take gigabytes)."""
    scratch = work / f"run-{mode}"
    scratch.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(ROOT), PREFECT_HOME=str(scratch / "prefect-home"))
    env.setdefault("OUTCOMES_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef0123")
    out_file = work / f"{mode}.json"
    proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(export), str(scratch), str(out_file)], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    shutil.rmtree(scratch, ignore_errors=True)
    if status != 0:
        raise SystemExit(f"{mode} failed with status {status}")
    result = json.loads(out_file.read_text())
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    return result


# --- the three contenders, each in its own process -------------------------------------------

def child_pipeline(export: Path, work: Path) -> dict:
    """Timed like a service run: the temporary Prefect API is started and the ingest code warmed
    up (flows.worker.warm_up: a tiny synthetic export validated, so GX is imported and its context
    built) first, as `outcomes serve` has them running before an export lands."""
    from prefect import flow

    from flows.ingest import ingest_in_process
    from flows.worker import warm_up as warm_ingest

    @flow(name="warm-up")
    def warm_up() -> None:
        warm_ingest()

    t0 = time.perf_counter()
    warm_up()
    warm = time.perf_counter() - t0
    target = work / "pipeline.duckdb"
    for stale in (target, Path(f"{target}.wal")):
        stale.unlink(missing_ok=True)
    t = time.perf_counter()
    r = ingest_in_process(str(export), warehouse=str(target))  # as every caller in the project runs it
    seconds = time.perf_counter() - t
    assert r["status"] == "loaded", r
    return {"seconds": seconds, "warm_up_seconds": round(warm, 1), "steps": r["timings"],
            "loaded": sum(c["loaded"] for c in r["tables"].values()),
            "quarantined": sum(c["quarantined"] for c in r["tables"].values())}


def child_duckdb(export: Path, work: Path) -> dict:
    import duckdb

    from transforms.tables import TABLES

    m = json.loads((export / "manifest.json").read_text())
    t = time.perf_counter()
    target = work / "raw.duckdb"
    for stale in (target, Path(f"{target}.wal")):
        stale.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    con.execute("BEGIN")
    for f in m["files"]:
        table = TABLES[f["table"]]
        types = {c.name: ("BOOLEAN" if c.type == "FLAG" else c.type) for c in table.columns}
        header = (export / f["path"]).open().readline().strip().split(",")
        columns = "{" + ", ".join(f"'{h}': '{types.get(h, 'VARCHAR')}'" for h in header) + "}"
        con.execute(f"CREATE TABLE {f['table']} AS SELECT * FROM read_csv('{export / f['path']}', header = true, "
                    f"columns = {columns})")
    con.execute("COMMIT")
    con.close()
    return {"seconds": time.perf_counter() - t}


def child_naive(export: Path, work: Path) -> dict:
    import duckdb
    import great_expectations as gx
    import pandas as pd

    from expectations.runner import _context, load_suite
    from transforms import stage
    from transforms.pseudonymise import build_key_map, load_key
    from transforms.tables import TABLE_ORDER, TABLES
    from transforms.workspace import open_workspace

    m = json.loads((export / "manifest.json").read_text())
    t = time.perf_counter()
    ws = open_workspace()
    for f in m["files"]:  # pandas reads every file
        df = pd.read_csv(export / f["path"], dtype=str, keep_default_na=False)
        df.insert(0, "_line", range(2, len(df) + 2))
        ws.register("_df", df)
        cols = ", ".join(f'"{c}"' if c in df.columns else f'NULL::VARCHAR AS "{c}"'
                         for c in TABLES[f["table"]].column_names)
        ws.execute(f"CREATE TEMP TABLE raw_{f['table']} AS SELECT _line, {cols} FROM _df")
        ws.unregister("_df")
    build_key_map(ws, load_key(), m["registry_id"], [f["table"] for f in m["files"]])
    ws.execute("SET VARIABLE registry_id = ?", [m["registry_id"]])
    ws.execute("SET VARIABLE exported_at = ?", [m["exported_at"]])
    ws.execute("ATTACH ':memory:' AS wh")
    from warehouse.migrate import migrate

    ws.execute("USE wh")
    migrate(ws)
    ws.execute("USE memory")
    _, batch_definition = _context()
    target = work / "naive.duckdb"
    for stale in (target, Path(f"{target}.wal")):
        stale.unlink(missing_ok=True)
    out = duckdb.connect(str(target))
    kept = 0
    for table in TABLE_ORDER:
        stage.ensure_raw(ws, table)
        stage.stage_table(ws, table)
        frame = ws.execute(f"SELECT * FROM stg_{table}").df()  # every row to pandas
        suite = load_suite(table)
        result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
            gx.ExpectationSuite(name=table, expectations=[e.copy() for e in suite.expectations]),
            result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_line"]})
        bad = {row["_line"] for r in result.results if r.expectation_config.meta["severity"] == "error"
               for row in (r.result.get("unexpected_index_list") or [])}
        good = frame[~frame["_line"].isin(bad)]
        out.register("_good", good)
        out.execute(f"CREATE TABLE {table} AS SELECT * FROM _good")
        out.unregister("_good")
        kept += len(good)
        ws.execute(f"CREATE OR REPLACE TEMP TABLE viol_{table} AS SELECT _line, 'x' AS rule, 'error' AS severity "
                   f"FROM stg_{table} WHERE _line IN (SELECT unnest(?::BIGINT[]))", [sorted(bad)])
        stage.mark_errors(ws, table)  # errors_<t> (and parkable_<t>, empty here) as the pipeline makes them
        stage.conform_table(ws, table)
        if table == "patients":
            ws.execute("CREATE OR REPLACE TEMP TABLE ctx_patients AS SELECT patient_key, enrolled_on FROM out_patients")
        elif table == "sessions":
            ws.execute("CREATE OR REPLACE TEMP TABLE ctx_sessions AS SELECT session_id, patient_key, session_start, "
                       "NULL::INTEGER AS pre_sbp, NULL::INTEGER AS pre_dbp FROM out_sessions")
    out.close()
    return {"seconds": time.perf_counter() - t, "loaded": kept}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        mode, export, work, out_file = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), Path(sys.argv[5])
        result = {"pipeline": child_pipeline, "duckdb": child_duckdb, "naive": child_naive}[mode](export, work)
        out_file.write_text(json.dumps(result, default=str))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="assessment rows in the export")
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--skip-naive", action="store_true", help="skip the naive pandas + GX baseline")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    ap.add_argument("--export", type=Path, default=None, help="reuse an export folder instead of generating one")
    ap.add_argument("--only", choices=["duckdb", "pipeline", "naive"], action="append", default=None,
                    help="run only these contenders (repeatable)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run the contenders this many times, interleaved, and report each one's median run")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="outcomes-bench-"))
    if args.work is None and args.export is not None:  # a generated export is kept, to reuse with --export
        atexit.register(shutil.rmtree, work, True)
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    export = args.export or make_export(args.rows, work / "registry")
    made = time.perf_counter() - t
    rows = _total_rows(export)
    results = {"assessment_rows": _assessments(export), "total_rows": rows, "generate_seconds": round(made, 1)}
    modes = args.only or (["duckdb", "pipeline"] + ([] if args.skip_naive else ["naive"]))
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(max(1, args.repeat)):  # interleaved, so a slow spell of the machine hits every contender
        for mode in modes:
            runs[mode].append(run_child(mode, export, work))
    for mode in modes:
        ordered = sorted(runs[mode], key=lambda x: x["seconds"])
        r = dict(ordered[(len(ordered) - 1) // 2])  # the median run (the lower middle one for even counts)
        r["rows_per_second"] = round(rows / r["seconds"])
        if len(ordered) > 1:
            r["all_seconds"] = [round(x["seconds"], 2) for x in runs[mode]]
        results[mode] = r
    if "pipeline" in results and "duckdb" in results:
        results["pipeline_vs_duckdb"] = round(results["pipeline"]["rows_per_second"] / results["duckdb"]["rows_per_second"], 3)
    if "naive" in results and "pipeline" in results:
        results["pipeline_vs_naive"] = round(results["pipeline"]["rows_per_second"] / results["naive"]["rows_per_second"], 2)
    if args.json:
        print(json.dumps(results, indent=2, default=str))
        return
    print(f"export: {results['assessment_rows']:,} assessment rows, {rows:,} rows in all ({export})")
    print(f"{'':10} {'seconds':>9} {'rows/s':>12} {'peak RSS MB':>12}")
    for mode in ("duckdb", "pipeline", "naive"):
        if mode in results:
            r = results[mode]
            runs_note = f"  (runs: {', '.join(f'{x:.1f}' for x in r['all_seconds'])})" if "all_seconds" in r else ""
            print(f"{mode:10} {r['seconds']:9.1f} {r['rows_per_second']:12,} {r['peak_rss_mb']:12,.0f}{runs_note}")
    if "pipeline_vs_duckdb" in results:
        print(f"pipeline / duckdb throughput: {results['pipeline_vs_duckdb']}")
    if "pipeline_vs_naive" in results:
        print(f"pipeline / naive throughput:  {results['pipeline_vs_naive']}")
    if "pipeline" in results:
        print("pipeline steps (s):", json.dumps(results["pipeline"]["steps"]))


if __name__ == "__main__":
    main()
