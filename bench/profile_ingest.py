"""Where one ingest's time goes: wall and CPU seconds per SQL file and per table's GX run.

    python bench/profile_ingest.py --export <export folder> [--json]
    OUTCOMES_MEMORY_LIMIT=8GB python bench/profile_ingest.py --export <export folder>   # without spilling

Runs the real flow (`ingest_in_process`, after the warm-up `outcomes serve` does) into a new
warehouse in a temporary folder, in this process, with every `transforms.sqlfiles.run` and every
`expectations.runner.validate_table` timed. CPU seconds are this process's (DuckDB's threads
included), so CPU / wall says how busy the two cores were. Not a throughput benchmark
(bench/ingest.py is): a profile to decide what to change.
"""
from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", required=True, help="an export folder (e.g. one bench/ingest.py generated)")
    ap.add_argument("--json", action="store_true", help="print the profile as JSON only")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="outcomes-profile-"))
    atexit.register(shutil.rmtree, work, True)  # registered first, so it runs after Prefect's own exit handlers
    os.environ.setdefault("PREFECT_HOME", str(work / "prefect-home"))
    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "benchmark-key-0123456789abcdef0123")

    import expectations.runner as runner
    import expectations.validate as validate
    from transforms import sqlfiles

    spent: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])

    def timed(name: str, fn):
        def wrapper(*a, **k):
            w, c = time.perf_counter(), _cpu()
            try:
                return fn(*a, **k)
            finally:
                x = spent[name(*a) if callable(name) else name]
                x[0] += time.perf_counter() - w
                x[1] += _cpu() - c
                x[2] += 1
        return wrapper

    sqlfiles.run = timed(lambda con, root, relpath, *_: relpath, sqlfiles.run)
    validate.validate_table = timed(lambda con, table, *_: f"gx:{table}", runner.validate_table)

    from prefect import flow

    from flows.ingest import ingest_in_process
    from flows.worker import warm_up

    flow(name="warm-up")(warm_up)()
    spent.clear()
    w, c = time.perf_counter(), _cpu()
    result = ingest_in_process(args.export, warehouse=str(work / "warehouse.duckdb"))
    wall, cpu = time.perf_counter() - w, _cpu() - c
    out = {"status": result["status"], "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
           "memory_limit": os.environ.get("OUTCOMES_MEMORY_LIMIT", "default"), "steps_s": result.get("timings"),
           "parts": [{"part": k, "wall_s": round(v[0], 2), "cpu_s": round(v[1], 2), "calls": v[2]}
                     for k, v in sorted(spent.items(), key=lambda kv: -kv[1][0])]}
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['status']}: {out['wall_s']} s wall, {out['cpu_s']} CPU-s; steps {out['steps_s']}")
    for p in out["parts"]:
        if p["wall_s"] >= 0.05:
            print(f"{p['wall_s']:7.2f} {p['cpu_s']:7.2f}  x{p['calls']:<3} {p['part']}")


if __name__ == "__main__":
    main()
