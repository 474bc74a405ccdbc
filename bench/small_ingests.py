"""Small exports one after another in one warm process, as `outcomes serve`'s ingest worker loads a
registry's monthly or event-driven exports: where a small export's time goes.

    python bench/small_ingests.py [--patients 5] [--ingests 10] [--json]

Synthesises one full export (`synth.generate_registry`, seed 3, one month), starts the temporary
Prefect API and warms the ingest code up as bench/ingest.py's pipeline contender does
(flows.worker.warm_up), then ingests the export --ingests times, each into a new warehouse, with
`flows.ingest.ingest_in_process` (the callers' way). Prints the median seconds per ingest, the
process's CPU seconds per ingest, and the median of each flow step. Compare code versions by
running it from each checkout back to back (docs/benchmarks.md).
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
    ap.add_argument("--patients", type=int, default=5)
    ap.add_argument("--ingests", type=int, default=10)
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = ap.parse_args()
    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef0123")
    work = Path(tempfile.mkdtemp(prefix="outcomes-small-"))
    atexit.register(shutil.rmtree, work, True)  # registered first, so it runs after Prefect's own exit handlers
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))

    from prefect import flow

    from flows.ingest import ingest_in_process
    from flows.worker import warm_up as warm_ingest
    from synth import generate_registry

    export = generate_registry(work / "registry", "bench-small", args.patients, seed=3, months=1)[0]

    @flow(name="warm-up")
    def warm_up() -> None:
        warm_ingest()

    warm_up()
    seconds, steps = [], {}
    cpu = time.process_time()
    for n in range(args.ingests):
        t = time.perf_counter()
        r = ingest_in_process(str(export), warehouse=str(work / f"w{n}.duckdb"))
        seconds.append(time.perf_counter() - t)
        assert r["status"] == "loaded", r
        for step, s in r["timings"].items():
            steps.setdefault(step, []).append(s)
    cpu = (time.process_time() - cpu) / args.ingests
    rows = sum(c["read"] for c in r["tables"].values() if "read" in c)
    out = {"patients": args.patients, "rows": rows, "ingests": args.ingests,
           "median_seconds": round(statistics.median(seconds), 3), "cpu_seconds_per_ingest": round(cpu, 3),
           "steps_median": {k: round(statistics.median(v), 3) for k, v in steps.items()}}
    if args.json:
        print(json.dumps(out, indent=1))
        return
    print(f"{args.ingests} ingests of one {rows}-row export ({args.patients} patients), one warm process:")
    print(f"  median {out['median_seconds']} s per ingest, {out['cpu_seconds_per_ingest']} CPU-s per ingest (this process)")
    print("  steps (median s): " + ", ".join(f"{k} {v}" for k, v in out["steps_median"].items()))


if __name__ == "__main__":
    main()
