"""A registry's newest two exports loaded in exported_at order, and with the newest arriving first
(the one before it late): the load step of each. An export in order loads its versions as the
newest; a late one runs the upsert's rules for older versions (the full exports newer than a
version that left its record out or held it parked, orphans of parents withdrawn since, sessions
brought back), which only such loads pay for.

    python bench/late_exports.py --registry DIR [--repeat 1] [--json]

DIR holds a registry's export folders (`outcomes synth --out DIR`; bench/ingest.py --work W leaves
its registry in W/registry/series). Each order loads the first export, then the newest two, into
a new warehouse, in one warm process (`flows.ingest.ingest_in_process`, the callers' way). Compare
code versions by running it from each checkout back to back (docs/benchmarks.md).
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
    ap.add_argument("--registry", required=True, type=Path, help="a folder of one registry's export folders")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each order, interleaved (medians reported)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = ap.parse_args()
    exports = sorted(p for p in args.registry.iterdir() if (p / "manifest.json").is_file())
    if len(exports) < 3:
        ap.error(f"{args.registry} holds {len(exports)} exports; at least 3 are needed")
    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef0123")
    work = Path(tempfile.mkdtemp(prefix="outcomes-late-"))
    atexit.register(shutil.rmtree, work, True)  # registered first, so it runs after Prefect's own exit handlers
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))

    from flows.ingest import ingest_in_process

    first, before, newest = exports[0], exports[-2], exports[-1]
    orders = {"in_order": [first, before, newest], "late": [first, newest, before]}
    loads: dict[str, list[dict]] = {name: [] for name in orders}
    for run in range(args.repeat):
        for name, order in orders.items():
            wh = str(work / f"{name}-{run}.duckdb")
            steps = {}
            for export in order:
                t = time.perf_counter()
                r = ingest_in_process(str(export), warehouse=wh)
                assert r["status"] == "loaded", (export.name, r.get("reason"))
                steps[export.name] = {"seconds": time.perf_counter() - t, "load": r["timings"]["load"]}
            loads[name].append(steps)
            Path(wh).unlink()
    result = {"registry": str(args.registry), "exports": [first.name, before.name, newest.name], "repeat": args.repeat}
    for name, runs in loads.items():
        result[name] = {e: {k: round(statistics.median(run[e][k] for run in runs), 3) for k in ("seconds", "load")}
                        for e in runs[0]}
    if args.json:
        print(json.dumps(result))
        return
    for name in orders:
        print(f"{name}:")
        for e, v in result[name].items():
            print(f"  {e}: {v['seconds']:.2f} s, load step {v['load']:.2f} s")


if __name__ == "__main__":
    main()
