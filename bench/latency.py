"""Landing-to-queryable latency of `outcomes serve`, and how long readers wait during loads.

    .venv/bin/python bench/latency.py [--exports 20] [--rows 10000] [--keep DIR]

Starts a Prefect server (temp PREFECT_HOME, free loopback port) and `outcomes serve` against it,
then lands N exports of ~`rows` rows each (one registry, one after another, each copied under a
hidden name and renamed into the landing zone) and records, per export, the seconds from the rename
to its ops.loads row being readable (status loaded). Meanwhile a reader thread opens the warehouse
read-only and runs a query every 50 ms, as `outcomes sql` does, and records how long each open had
to wait for the writer's lock. Prints a JSON summary (median, p95, max) and a Markdown table.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_tables(n_rows: int, seed: int, n: int) -> dict:
    """~n_rows valid rows over the six tables (patients 10 %, sessions 30 %, vitals 30 %,
    assessments 20 %, adverse events 5 %, labs 5 %)."""
    rnd = random.Random(seed)
    np_ = max(1, n_rows // 10)
    pats = [{"patient_id": f"P{i:06d}", "birth_date": f"{rnd.randint(1950, 2000)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
             "sex": rnd.choice("FMXU"), "zip": f"{rnd.randint(10000, 99999)}", "enrolled_on": "2025-01-05",
             "site_id": "north", "trd_failed_trials": str(rnd.randint(2, 6)), "diagnosis_icd10": "F33.2"}
            for i in range(np_)]
    ns = 3 * np_
    sess, vit, asm, aes, labs = [], [], [], [], []
    for i in range(ns):
        p = pats[i % np_]["patient_id"]
        day = 10 + (i // np_)
        sess.append({"session_id": f"S{i:07d}", "patient_id": p, "session_start": f"2025-01-{day:02d}T09:00:00Z",
                     "drug": "esketamine", "route": "intranasal", "dose_mg": "56", "devices": "2", "setting": "clinic",
                     "monitoring_minutes": "125"})
        vit.append({"session_id": f"S{i:07d}", "timepoint": "pre", "minutes_after_dose": "0", "sbp": str(rnd.randint(110, 135)),
                    "dbp": str(rnd.randint(70, 85)), "heart_rate": str(rnd.randint(60, 90)), "spo2": str(rnd.randint(95, 100))})
    for i in range(2 * np_):
        asm.append({"assessment_id": f"A{i:07d}", "patient_id": pats[i % np_]["patient_id"],
                    "assessed_at": "2025-01-09T09:00:00Z", "instrument": "MADRS", "total_score": str(rnd.randint(10, 40))})
    for i in range(max(1, np_ // 2)):
        aes.append({"ae_id": f"E{i:07d}", "patient_id": pats[i]["patient_id"], "session_id": f"S{i:07d}",
                    "onset_date": "2025-01-10", "term": "felt detached", "meddra_pt": "Dissociation", "severity": "mild",
                    "serious": "0", "related": "probable", "outcome": "recovered", "resolved_date": "2025-01-10"})
        labs.append({"lab_id": f"L{i:07d}", "patient_id": pats[i]["patient_id"], "collected_on": "2025-01-11",
                     "test": "ALT", "value": str(rnd.randint(10, 60)), "unit": "U/L", "uln": "40"})
    return {"patients": pats, "sessions": sess, "vitals": vit, "assessments": asm, "adverse_events": aes, "labs": labs}


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def _ts(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def breakdown(api: str, wh: Path, landed: dict[str, float]) -> dict:
    """Median seconds of each stage of the path, per export, from the server's events and flow
    runs and from ops.loads: landed -> event emitted (watcher) -> triggered flow run created
    (server) -> flow run started (runner poll + process start) -> ingest started -> committed."""
    import httpx

    from warehouse.connect import open_readonly

    r = httpx.post(api + "/events/filter", timeout=30, json={
        "filter": {"event": {"prefix": ["registry.export.landed"]}, "order": "ASC"}, "limit": 50})
    r.raise_for_status()
    emitted = {}
    for e in r.json()["events"]:
        emitted.setdefault(e["resource"].get("outcomes.export.location", ""), _ts(e["occurred"]))
    r = httpx.post(api + "/flow_runs/filter", timeout=30, json={
        "flows": {"name": {"any_": ["ingest-landed-export"]}}, "limit": 200})
    r.raise_for_status()
    runs = {}
    for fr in r.json():
        loc = (fr.get("parameters") or {}).get("location", "")
        if fr.get("start_time"):
            runs.setdefault(loc, (_ts(fr["created"]), _ts(fr["start_time"])))
    con = open_readonly(wh)
    loads = {e: (a.timestamp(), b.timestamp()) for e, a, b in con.execute(
        "SELECT export_id, started_at, finished_at FROM ops.loads WHERE status = 'loaded'").fetchall()}
    con.close()
    rows = []
    for export_id, t0 in landed.items():
        loc = next((k for k in emitted if k.endswith("/" + export_id)), None)
        if loc is None or loc not in runs or export_id not in loads:
            continue
        ev, (created, started), (ing0, ing1) = emitted[loc], runs[loc], loads[export_id]
        rows.append({"landed_to_event": ev - t0, "event_to_run_created": created - ev,
                     "created_to_run_started": started - created, "run_started_to_ingest": ing0 - started,
                     "ingest_to_committed": ing1 - ing0})
    return {k: round(statistics.median(r[k] for r in rows), 2) for k in rows[0]} if rows else {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--exports", type=int, default=20)
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--keep", default=None, help="work folder to keep (default: a temp folder, removed)")
    ap.add_argument("--poll", default=None, help="PREFECT_RUNNER_POLL_FREQUENCY for the service "
                    "[default: outcomes.toml's runner_poll, 0.5 s]")
    args = ap.parse_args()

    work = Path(args.keep or tempfile.mkdtemp(prefix="outcomes-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    os.environ["PREFECT_HOME"] = str(work / "prefect-client")
    os.environ.setdefault("OUTCOMES_PSEUDONYM_KEY", "bench-" + "k" * 40)
    from flows.serve_command import start_server, stop
    from tests.events.service import free_port
    from tests.exports import write_export
    from warehouse.connect import open_readonly

    server, api = start_server("127.0.0.1", free_port(), work / "prefect", work / "server.log",
                               {"PREFECT_UI_ENABLED": "false"})
    landing, wh = work / "landing", work / "warehouse.duckdb"
    cfg = work / "outcomes.toml"
    cfg.write_text(f'landing_zone = "{landing}"\nwarehouse = "{wh}"\n[service]\nname = "bench"\n'
                   f'automations = false\n')  # every timing setting at its default
    env = dict(os.environ, OUTCOMES_CONFIG=str(cfg), PREFECT_API_URL=api)
    if args.poll:
        env["PREFECT_RUNNER_POLL_FREQUENCY"] = args.poll
    log = open(work / "serve.log", "ab")
    svc = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "serve", "--no-automations"], env=env, cwd=ROOT,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    waits: list[float] = []
    stop_reader = threading.Event()

    def reader():
        while not stop_reader.is_set():
            if wh.exists():
                t = time.perf_counter()
                try:
                    con = open_readonly(wh, timeout=120)
                    waits.append(time.perf_counter() - t)
                    con.execute("SELECT count(*) FROM core.sessions").fetchone()
                    con.close()
                except Exception:
                    pass
            time.sleep(0.05)

    latencies, rows_per_export = [], 0
    landed_wall: dict[str, float] = {}
    stages: dict = {}
    try:
        src = work / "src"
        bundles = []
        for i in range(args.exports):
            tables = make_tables(args.rows, i, args.exports)
            rows_per_export = sum(len(v) for v in tables.values())
            bundles.append(write_export(src, tables, registry="bench", export_id=f"e{i:03d}",
                                        exported_at=f"2025-03-{1 + i % 28:02d}T{i // 28:02d}:00:00Z"))
        time.sleep(15)  # let the watcher start
        reading = threading.Thread(target=reader, daemon=True)
        reading.start()
        for b in bundles:
            tmp = landing / "bench" / f".{b.name}"
            tmp.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(b, tmp)
            t0 = time.monotonic()
            landed_wall[b.name] = time.time()
            os.rename(tmp, landing / "bench" / b.name)
            while True:
                try:
                    con = open_readonly(wh, timeout=120)
                    got = con.execute("SELECT status FROM ops.loads WHERE export_id = ?", [b.name]).fetchone()
                    con.close()
                except Exception:
                    got = None
                if got:
                    latencies.append(time.monotonic() - t0)
                    print(f"{b.name}: {got[0]} after {latencies[-1]:.2f} s", file=sys.stderr, flush=True)
                    break
                if time.monotonic() - t0 > 300:
                    raise SystemExit(f"{b.name} not loaded after 300 s (see {work / 'serve.log'})")
                time.sleep(0.1)
        # the reader's connection first: DuckDB refuses a second connection to a file it has open
        # in this process with another configuration (an earlier run lost its breakdown so)
        stop_reader.set()
        reading.join(timeout=130)
        try:
            stages = breakdown(api, wh, landed_wall)
        except Exception as e:  # the breakdown is a diagnostic; the latencies stand without it
            stages = {"error": repr(e)[:300]}
    finally:
        stop_reader.set()
        stop(svc, "outcomes serve")
        stop(server, "prefect server")
    con = open_readonly(wh)
    timings = [json.loads(t) for (t,) in con.execute("SELECT timings FROM ops.loads WHERE status='loaded'").fetchall()]
    con.close()
    step = {k: round(statistics.median([t.get(k, 0) for t in timings]), 3) for k in timings[0]} if timings else {}
    summary = {
        "exports": len(latencies), "rows_per_export": rows_per_export, "cpus": os.cpu_count(),
        "latency_s": {"median": round(statistics.median(latencies), 2), "p95": round(pct(latencies, 0.95), 2),
                      "max": round(max(latencies), 2), "min": round(min(latencies), 2)},
        "reader_wait_s": {"opens": len(waits), "median": round(statistics.median(waits), 4) if waits else None,
                          "p95": round(pct(waits, 0.95), 3) if waits else None,
                          "max": round(max(waits), 3) if waits else None},
        "median_step_s": step,
        "median_stage_s": stages,
    }
    print(json.dumps(summary, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
