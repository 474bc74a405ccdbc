"""Synthetic registry exports in the native `kor` format, for tests and benchmarks.

The cohort is generated in fixed-size chunks of patients; each chunk's rows are appended to
every export folder at once, so memory is bounded by one chunk whatever the cohort size, and
the output depends only on the arguments (one numpy Generator per chunk, no clock anywhere).
"""
from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from . import render
from .cohort import build_chunk
from .corrupt import Bad, Corrupter
from .ids import MAX_PATIENTS
from .params import CohortParams
from .schema import COLUMNS, FILE_FORMATS, TABLES, TEXT_COLUMNS
from .timeline import Timeline
from .writer import ExportWriter, TableFile

CHUNK_PATIENTS = 2000          # part of the output's identity: changing it changes the data
INJECTED_LOG = "_injected.jsonl"
_REGISTRY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def generate_registry(out_dir, registry_id: str, patients: int, seed: int = 0, start: date = date(2025, 1, 1),
                      months: int = 6, file_format: str = "csv", bad_rows: float = 0.0,
                      params: CohortParams | None = None, progress: bool = False,
                      malformed: bool | None = None) -> list[Path]:
    """Write a monthly series of exports of one synthetic registry; return the export folders.

    Series (one export per calendar month, taken at 23:00Z on its last day, folder name =
    export_id, e.g. `2025-01-31T23-00-00Z`):
    - export 1 is `full`: everything recorded up to the end of the start's month;
    - exports 2 .. months-1 are `incremental`: records new that month plus records sent earlier
      whose content changed: corrected scores, lab values and AE severities (first sent wrong),
      and adverse events first sent as `recovering` that have since resolved;
    - the last export (when months >= 2) is `full` again and omits some previously exported
      records: every row of withdrawn patients (consent withdrawn), and some stand-alone
      assessments deleted as entered in error. It carries the latest version of everything else.

    `bad_rows` > 0 adds that share of broken rows to every file and logs each one in
    `out_dir/_injected.jsonl` as {"export_id", "table", "line", "rule"}, plus "first_line" for
    `*.unique` rules (the first occurrence; `line` is the second). `line` is the row's `source_row`
    in the pipeline (ops.quarantine): the CSV line (header = 1; csv.gz too) or the Parquet record
    number (first record = 1). See corrupt.py: bad rows are
    added copies, never replacements, and a broken patient row is a patient without other rows,
    so nothing cascades into orphans. The log is in generation order (chunk by chunk), rewritten
    on every call (empty when bad_rows is 0). Same-named export folders are overwritten.

    `params` plants rates (CohortParams); None = the realistic defaults. `malformed` = False leaves
    out the `<table>.row.malformed` lines (default: in CSV formats only).
    """
    if not _REGISTRY_ID.fullmatch(registry_id or ""):
        raise ValueError("registry_id must match [a-z0-9][a-z0-9-]{0,63}")
    if not 1 <= patients <= MAX_PATIENTS:
        raise ValueError(f"patients must be 1..{MAX_PATIENTS}")
    if seed < 0:
        raise ValueError("seed must be >= 0")
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {sorted(FILE_FORMATS)}")
    params = params or CohortParams()
    tl = Timeline(start, months)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    corrupter = Corrupter(bad_rows, seed, file_format, malformed) if bad_rows else None
    writers = [ExportWriter(out, registry_id, e, file_format) for e in tl.exports]
    n_chunks = -(-patients // CHUNK_PATIENTS)
    with open(out / INJECTED_LOG, "w", encoding="utf-8") as log, \
            tqdm(total=patients, unit="patient", disable=not progress, desc=registry_id) as bar:
        for c in range(n_chunks):
            count = min(CHUNK_PATIENTS, patients - c * CHUNK_PATIENTS)
            chunk = build_chunk(c, c * CHUNK_PATIENTS + 1, count, seed, params, tl)
            for table in TABLES:
                tc = chunk.tables[table]
                text = TEXT_COLUMNS.get(table, frozenset())
                # CSV: render each row once, then every export takes its lines
                lines = render.csv_lines(tc.combined, text) if file_format != "parquet" else None
                for export, w in zip(tl.exports, writers):
                    rows = pa.array(tc.rows_for(export.index, len(tl)))
                    view = tc.combined.take(rows) if corrupter or lines is None else None
                    bad = corrupter.inject(table, view, export, chunk, c) if corrupter else []
                    part = view if lines is None else lines.take(rows)
                    for line, rule, first in _write(w.files[table], part, bad):
                        rec = {"export_id": export.export_id, "table": table, "line": line, "rule": rule}
                        if first is not None:
                            rec["first_line"] = first
                        log.write(json.dumps(rec) + "\n")
            del chunk
            bar.update(count)
    for w in writers:
        w.close()
    return [w.folder for w in writers]


def _write(f: TableFile, part: pa.Table | pa.Array, bad: list[Bad]) -> list[tuple[int, str, int | None]]:
    """Append a table (Parquet) or CSV lines, each bad row right after its original.

    Returns (line, rule, first_line) per bad row, numbered as the pipeline's source_row: the CSV
    line (header = 1) or the Parquet record number (first = 1); first_line is that of a unique
    rule's first occurrence, else None.
    """
    first_line = f.rows + (1 if f.format == "parquet" else 2)
    n = len(part)
    if not bad:
        if n:
            f.write_table(part) if f.format == "parquet" else f.write_lines(part)
        return []
    payloads, after, slot = [], [], []           # slot: index of the bad row's own payload
    for b in bad:
        if b.companion is not None:
            payloads.append(b.companion)
            after.append(b.after)
        slot.append(len(payloads))
        payloads.append(b.payload)
        after.append(b.after)
    m = len(payloads)
    order = pa.array(np.lexsort((np.r_[np.zeros(n, np.int64), 1 + np.arange(m)],
                                 np.r_[np.arange(n), np.asarray(after, np.int64)])))
    position = np.empty(n + m, dtype=np.int64)
    position[order.to_numpy()] = np.arange(n + m)
    if f.format == "parquet":
        extra = pa.Table.from_pylist(payloads, schema=part.schema)
        f.write_table(pa.concat_tables([part, extra]).take(order))
    else:
        cols = COLUMNS[f.table]
        extra = pa.array([p + "\n" if isinstance(p, str) else render.format_row([p[c] for c in cols])
                          for p in payloads], pa.string())
        f.write_lines(pa.concat_arrays([part, extra]).take(order))
    return [(first_line + int(position[n + j]), b.rule,
             first_line + int(position[n + j - 1]) if b.companion is not None else None)
            for j, b in zip(slot, bad)]
