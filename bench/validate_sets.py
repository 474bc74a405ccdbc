"""Per-column sets or one merged set: each table's validation time at several export sizes.

    python bench/validate_sets.py --patients 5 150 800 3000 [--repeat 3] [--json]

For each size, synthesises one full export (`synth.generate_registry`, seed 3, one month), stages
it as the flow does, then validates every table twice in the same process, alternating: once with
the suite's per-column sets (`merge_below=0`) and once as one merged set (`merge_below` above the
table's rows). Prints the median seconds of each and their ratio per table and rows, which is what
`expectations.runner.MERGE_BELOW_ROWS` was chosen from (docs/benchmarks.md).
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--patients", type=int, nargs="+", default=[5, 150, 800, 3000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true", help="print the rows as JSON only")
    args = ap.parse_args()
    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef0123")

    from expectations import runner, validate
    from synth import generate_registry
    from transforms.adapters import kor
    from transforms.bundle import open_bundle
    from transforms.pseudonymise import build_key_map
    from transforms.workspace import open_workspace
    from warehouse.connect import attach, ensure_warehouse

    work = Path(tempfile.mkdtemp(prefix="outcomes-sets-"))
    atexit.register(shutil.rmtree, work, True)
    rows_out = []
    patients = 0

    def both_plans(con, table, staging, suite=None, **_):
        """In the flow's validate step, where each staging table exists: time both plans."""
        rows = con.execute(f"SELECT count(*) FROM {staging}").fetchone()[0]
        took = {"sets": [], "merged": []}
        for _ in range(args.repeat):
            for plan, below in (("sets", 0), ("merged", rows)):
                t = time.perf_counter()
                out = runner.validate_table(con, table, staging, suite, merge_below=below)
                took[plan].append(time.perf_counter() - t)
        s, m = statistics.median(took["sets"]), statistics.median(took["merged"])
        rows_out.append({"patients": patients, "table": table, "rows": rows, "sets_s": round(s, 3),
                         "merged_s": round(m, 3), "merged_over_sets": round(m / s, 2)})
        return runner.validate_table(con, table, staging, suite)

    validate.validate_table = both_plans
    for patients in args.patients:
        folder = generate_registry(work / f"p{patients}", "bench-sets", patients, seed=3, months=1)[0]
        bundle = open_bundle(folder)
        ws = open_workspace()
        reads = kor.read(ws, bundle)
        build_key_map(ws, os.environ["OUTCOMES_PSEUDONYM_KEY"].encode(), bundle.registry_id, list(reads))
        attach(ws, ensure_warehouse(work / f"wh{patients}.duckdb"), read_only=True)
        validate.validate_and_split(ws, bundle.registry_id, bundle.exported_at, bundle.mode, reads)
        ws.close()
    if args.json:
        print(json.dumps(rows_out, indent=1))
        return
    print(f"{'patients':>8} {'table':<15} {'rows':>7} {'sets s':>7} {'merged s':>8} {'merged/sets':>11}")
    for r in rows_out:
        print(f"{r['patients']:>8} {r['table']:<15} {r['rows']:>7} {r['sets_s']:>7} {r['merged_s']:>8} "
              f"{r['merged_over_sets']:>11}")


if __name__ == "__main__":
    main()
