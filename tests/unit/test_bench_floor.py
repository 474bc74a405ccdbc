"""bench/floor.py runs on a real (tiny) export and accounts for every row and table."""
from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

from synth import generate_registry

ROOT = Path(__file__).resolve().parents[2]


def test_floor_reports_parse_and_write_for_every_table(tmp_path):
    export = generate_registry(tmp_path / "exports", "tiny", patients=6, seed=3, start=date(2025, 1, 1), months=1)[0]
    manifest = json.loads((export / "manifest.json").read_text())
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "floor.py"), "--export", str(export), "--json"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    result = json.loads(out.stdout)
    assert result["rows"] == sum(f["rows"] for f in manifest["files"]) > 0
    tables = {f["table"] for f in manifest["files"]}
    assert set(result["parse"]) == tables
    assert set(result["write_lineage"]) == tables | {"commit"}
    assert result["write_seconds"] > 0 and result["parse_seconds"] > 0  # measured, not defaults
