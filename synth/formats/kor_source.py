"""Read a kor export folder's manifest and tables as lists of dicts (text), for the converters."""
from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import datetime, timezone
from pathlib import Path


def read_kor(folder: Path) -> tuple[dict, dict[str, list[dict]]]:
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    tables: dict[str, list[dict]] = {}
    for f in manifest["files"]:
        path = folder / f["path"]
        if f["path"].endswith(".parquet"):
            import pyarrow.parquet as pq

            tables[f["table"]] = [{k: (None if v is None else str(v)) for k, v in r.items()}
                                  for r in pq.read_table(path).to_pylist()]
            continue
        raw = path.read_bytes()
        if f["path"].endswith(".gz"):
            raw = gzip.decompress(raw)
        reader = csv.DictReader(io.StringIO(raw.decode("utf-8-sig")))
        # a line with too many fields puts the extra ones under the key None: they are left out
        tables[f["table"]] = [{k.strip().lower(): (v if v != "" else None) for k, v in r.items() if k is not None}
                              for r in reader]
    for t in ("patients", "sessions", "vitals", "assessments", "adverse_events", "labs"):
        tables.setdefault(t, [])
    return manifest, tables


def parse_ts(text: str) -> datetime:
    """An ISO datetime as aware UTC (no offset = UTC, as the synthetic registries declare)."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def try_ts(text: str | None) -> datetime | None:
    """parse_ts, or None for a value that is not an ISO datetime (a bad row's broken value: the
    converters then pass the text through as it is, so the pipeline quarantines it)."""
    if not text:
        return None
    try:
        return parse_ts(text)
    except ValueError:
        return None


def int_or_text(text: str | None):
    """An integer value as int; anything else (a bad row's '12.5', 'twelve') as the text itself."""
    if text is None:
        return None
    try:
        f = float(text)
    except ValueError:
        return text
    return int(f) if f.is_integer() else text


def birth_year(p: dict) -> str | None:
    if p.get("birth_year"):
        return p["birth_year"]
    return p["birth_date"][:4] if p.get("birth_date") else None
