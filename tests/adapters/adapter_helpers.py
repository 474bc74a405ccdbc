"""Small builders shared by the adapter tests."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from transforms import adapters


def read_export(con, name: str, path: Path, **options):
    a = adapters.get(name)
    bundle = a.open(path, **options)
    return bundle, a.read(con, bundle)


def rows(con, table: str, columns: str = "*", where: str = "true") -> list[tuple]:
    return con.execute(f"SELECT {columns} FROM raw_{table} WHERE {where} ORDER BY _line").fetchall()


def copy_redcap(src: Path, dst: Path, mapping: str | None = None, export: dict | None = None) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.is_file():
            shutil.copy(f, dst / f.name)
    if mapping is not None:
        (dst / "mapping.toml").write_text(mapping)
    if export is not None:
        (dst / "export.json").write_text(json.dumps(export))
    return dst


def deletion_bundle(*refs: str, method: str = "DELETE") -> dict:
    """A Bulk Data `deleted` line: a transaction Bundle with one DELETE entry per "<Type>/<id>"."""
    return {"resourceType": "Bundle", "type": "transaction",
            "entry": [{"request": {"method": method, "url": ref}} for ref in refs]}


def ndjson_export(dst: Path, resources: list[dict], manifest_time: str | None = "2026-01-31T12:00:00Z",
                  deleted: list | None = None, since: str | None = None) -> Path:
    """Write resources as one NDJSON file per type, and a Bulk completion manifest. deleted: the lines
    of the manifest's `deleted` file (Bundles, or raw text for a malformed line); since: the _since the
    manifest's request names (an incremental export)."""
    dst.mkdir(parents=True, exist_ok=True)
    by_type: dict[str, list[dict]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(r)
    output = []
    for t, rs in by_type.items():
        (dst / f"{t}.000.ndjson").write_text("".join(json.dumps(r) + "\n" for r in rs))
        output.append({"type": t, "url": f"https://ehr.invalid/bulk/{t}.000.ndjson"})
    manifest = {"transactionTime": manifest_time, "request": "https://ehr.invalid/fhir/$export" +
                (f"?_since={since}" if since else ""), "requiresAccessToken": True, "output": output, "error": []}
    if deleted is not None:
        (dst / "Bundle.deleted.000.ndjson").write_text(
            "".join((d if isinstance(d, str) else json.dumps(d)) + "\n" for d in deleted))
        manifest["deleted"] = [{"type": "Bundle", "url": "https://ehr.invalid/bulk/Bundle.deleted.000.ndjson"}]
    if manifest_time:
        (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst
