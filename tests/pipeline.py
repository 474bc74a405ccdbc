"""Run the ingest's plain functions (no Prefect) on a test export, for unit tests of rules."""
from __future__ import annotations

import copy
from pathlib import Path

from exports import BASE, write_export
from expectations.validate import validate_and_split
from flows_free import KEY  # noqa: F401  (re-exported for tests)
from transforms.adapters import kor
from transforms.bundle import open_bundle
from transforms.pseudonymise import build_key_map
from transforms.workspace import open_workspace
from warehouse.connect import attach, detach, ensure_warehouse


def base_tables() -> dict:
    return copy.deepcopy(BASE)


def run_validation(tmp_path: Path, tables: dict | None = None, warehouse: Path | None = None, **export_kw):
    """Read, pseudonymise, validate and split an export; returns the workspace connection."""
    folder = write_export(tmp_path / "exports", tables, **export_kw)
    bundle = open_bundle(folder)
    ws = open_workspace()
    reads = kor.read(ws, bundle)
    build_key_map(ws, KEY.encode(), bundle.registry_id, list(reads))
    wh = ensure_warehouse(warehouse or tmp_path / "wh.duckdb")
    attach(ws, wh, read_only=True)
    try:  # the flow's validate step itself (withdrawal decisions of a full export included)
        results = validate_and_split(ws, bundle.registry_id, bundle.exported_at, bundle.mode, reads)
    finally:
        detach(ws)
    return ws, reads, results


def violations(ws) -> set[tuple[str, int, str]]:
    out = set()
    for table in BASE:
        for line, rule in ws.execute(f"SELECT _line, rule FROM viol_{table}").fetchall():
            out.add((table, line, rule))
    return out
