"""Typed numpy columns -> Arrow string columns -> CSV lines, without a per-row Python loop.

Every table is held as Arrow string columns (nulls = empty CSV fields), so the same table feeds
the CSV and the Parquet writers and the corrupter can put any text into any column. A CSV chunk
is one Arrow string array of whole lines; its data buffer is the bytes to write.
"""
from __future__ import annotations

import csv
import io
from typing import Iterable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

STR = pa.string()
_QUOTE_NEEDED = r'[",\r\n]'


def _mask(valid):
    return None if valid is None else ~np.asarray(valid, dtype=bool)


def ints(values, valid=None) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64), mask=_mask(valid)).cast(STR)


def decimals(values, valid=None, digits: int = 1) -> pa.Array:
    """Shortest decimal text after rounding: 56.0 -> "56", 37.25 -> "37.2"."""
    return pa.array(np.round(np.asarray(values, dtype=np.float64), digits), mask=_mask(valid)).cast(STR)


def dates(days, valid=None) -> pa.Array:
    """Days since 1970-01-01 -> YYYY-MM-DD (a lookup into the chunk's few distinct days)."""
    days = np.asarray(days, dtype=np.int64)
    if days.size == 0:
        return nulls(0)
    lo, hi = int(days.min()), int(days.max())
    vocab = pa.array(np.arange(lo, hi + 1).astype("datetime64[D]")).cast(STR)
    return vocab.take(pa.array(days - lo, mask=_mask(valid)))


_TIME_OF_DAY: pa.Array | None = None


def _time_of_day() -> pa.Array:
    global _TIME_OF_DAY
    if _TIME_OF_DAY is None:
        _TIME_OF_DAY = pa.array([f"T{h:02d}:{m:02d}:{x:02d}Z" for h in range(24) for m in range(60) for x in range(60)])
    return _TIME_OF_DAY


def datetimes(seconds, valid=None) -> pa.Array:
    """UTC seconds -> YYYY-MM-DDTHH:MM:SSZ (date lookup + time-of-day lookup; strftime is 5x slower)."""
    seconds = np.asarray(seconds, dtype=np.int64)
    day, sec = np.divmod(seconds, 86_400)
    return join([dates(day, valid), _time_of_day().take(pa.array(sec, mask=_mask(valid)))])


def codes(index, vocab: Sequence[str], valid=None) -> pa.Array:
    """Vocabulary lookup: index i -> vocab[i]."""
    return pa.array(list(vocab), STR).take(pa.array(np.asarray(index, dtype=np.int32), mask=_mask(valid)))


def const(value: str, n: int) -> pa.Array:
    return codes(np.zeros(n, dtype=np.int32), [value])


def nulls(n: int) -> pa.Array:
    return pa.nulls(n, STR)


def padded(values, width: int) -> pa.Array:
    return pc.utf8_lpad(ints(values), width=width, padding="0")


def join(parts: Iterable, sep: str = "") -> pa.Array:
    """Element-wise concatenation of arrays and scalars; null if any part is null."""
    return pc.binary_join_element_wise(*parts, sep)


def where(cond, a: pa.Array, b: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(np.asarray(cond, dtype=bool)), a, b)


def quote(col: pa.Array) -> pa.Array:
    """RFC 4180: quote a field (doubling its quotes) only if it holds a comma, quote or newline."""
    needs = pc.match_substring_regex(col, _QUOTE_NEEDED)
    if not pc.any(needs).as_py():
        return col
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(col, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, col)


def csv_lines(table: pa.Table, text_columns: frozenset[str] = frozenset()) -> pa.Array:
    """One string per row, each ending in "\\n"."""
    cols = []
    for name in table.column_names:
        col = table.column(name).combine_chunks()
        cols.append(quote(col) if name in text_columns else col)
    line = pc.binary_join_element_wise(*cols, ",", null_handling="replace", null_replacement="")
    return pc.binary_join_element_wise(line, "", "\n")


def line_bytes(lines: pa.Array) -> pa.Buffer:
    """The concatenated bytes of a string array (its data buffer, sliced to the array)."""
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if len(lines) == 0:
        return pa.py_buffer(b"")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4)
    return lines.buffers()[2][int(offsets[0]):int(offsets[-1])]


def format_row(fields: Sequence[str | None]) -> str:
    """One CSV line (with "\\n") the way csv_lines would write it; for hand-made rows."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["" if f is None else f for f in fields])
    return buf.getvalue()
