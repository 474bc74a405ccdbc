"""What the pipeline's read and load steps cannot beat: DuckDB parsing the export and DuckDB writing it.

    python bench/floor.py --export <export folder>

Splits DuckDB's own load (bench/ingest.py's baseline) into its two halves, in one process:
1. parse: read_csv of every file with explicit types into in-memory tables (no write);
2. write: those typed tables copied into a new database file in one transaction, once as they are
   and once with the lineage columns the warehouse adds to every row (registry, load, export,
   load time, source row, warnings).
The pipeline must do both halves and, between them, keep the text, type it strictly, run the
rules and Great Expectations; so its throughput ratio to DuckDB's load is bounded by
parse + write / (parse + write + validation).
"""
from __future__ import annotations

import argparse
import atexit
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.tables import TABLES  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--export", type=Path, required=True, help="an export folder (manifest.json and CSV files)")
    ap.add_argument("--memory-limit", default="1000MB", help="DuckDB memory limit (the workspace's default)")
    ap.add_argument("--json", action="store_true", help="print the result as JSON only")
    args = ap.parse_args()
    manifest = json.loads((args.export / "manifest.json").read_text())
    work = Path(tempfile.mkdtemp(prefix="outcomes-floor-"))
    atexit.register(shutil.rmtree, work, True)
    con = duckdb.connect(config={"memory_limit": args.memory_limit, "temp_directory": str(work / "spill")})
    out: dict = {"rows": sum(f["rows"] for f in manifest["files"]), "parse": {}, "write": {}, "write_lineage": {}}
    for f in manifest["files"]:
        types = {c.name: ("BOOLEAN" if c.type == "FLAG" else c.type) for c in TABLES[f["table"]].columns}
        header = (args.export / f["path"]).open().readline().strip().split(",")
        columns = "{" + ", ".join(f"'{h}': '{types.get(h, 'VARCHAR')}'" for h in header) + "}"
        t = time.perf_counter()
        con.execute(f"CREATE TEMP TABLE {f['table']} AS SELECT * FROM read_csv('{args.export / f['path']}', "
                    f"header = true, columns = {columns})")
        out["parse"][f["table"]] = round(time.perf_counter() - t, 2)
    lineage = ("'registry' AS registry_id, 1::BIGINT AS load_id, 'export' AS export_id, now() AS loaded_at, "
               "rowid + 2 AS source_row, NULL::VARCHAR[] AS warnings")
    for label, extra in (("write", ""), ("write_lineage", ", " + lineage)):
        target = work / f"{label}.duckdb"
        con.execute(f"ATTACH '{target}' AS w")
        con.execute("BEGIN")
        for f in manifest["files"]:
            t = time.perf_counter()
            con.execute(f"CREATE TABLE w.{f['table']} AS SELECT *{extra} FROM {f['table']}")
            out[label][f["table"]] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        con.execute("COMMIT")
        con.execute("DETACH w")
        out[label]["commit"] = round(time.perf_counter() - t, 2)
    for k in ("parse", "write", "write_lineage"):
        out[f"{k}_seconds"] = round(sum(out[k].values()), 2)
    if args.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{out['rows']:,} rows ({args.export})")
    for k in ("parse", "write", "write_lineage"):
        print(f"{k:14} {out[k + '_seconds']:6.2f} s  {json.dumps(out[k])}")


if __name__ == "__main__":
    main()
