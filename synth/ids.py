"""Record identifiers.

Patient ids are MRN-like (`KOR-000123`): they are direct identifiers the pipeline must hash.
Every other id is an opaque number derived from (patient number, record number) by an odd
multiplier modulo 2**40: a bijection, so ids are unique without a registry-wide counter (each
chunk can mint its own), yet they do not expose the patient number the way `S-000123-004` would.
Ids of injected bad rows come from the upper half of the sequence space, real ones never do.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAX_PATIENTS = 4_000_000          # keeps every real sequence number below 2**38
_MASK = (1 << 40) - 1
_INJECTED = 1 << 39
_WIDTH = 13                       # digits of 2**40 - 1

# table -> (prefix, multiplier (odd), offset, bits for the per-patient record number)
_SCHEME = {
    "sessions": ("S", 0x9E3779B97F4A7C15 & _MASK | 1, 0x2545F4914F, 12),
    "assessments": ("A", 0xBF58476D1CE4E5B9 & _MASK | 1, 0x7F4A7C1593, 16),
    "adverse_events": ("E", 0x94D049BB133111EB & _MASK | 1, 0x1CE4E5B97F, 12),
    "labs": ("L", 0xD6E8FEB86659FD93 & _MASK | 1, 0x133111EB25, 12),
}


def record_bits(table: str) -> int:
    """How many records one patient may have in `table` (as a power of two)."""
    return _SCHEME[table][3]


def _encode(table: str, seq: np.ndarray) -> np.ndarray:
    _, mult, add, _ = _SCHEME[table]
    seq = np.asarray(seq, dtype=np.uint64)
    return (seq * np.uint64(mult) + np.uint64(add)) & np.uint64(_MASK)


def record_ids(table: str, pnum: np.ndarray, local: np.ndarray) -> pa.Array:
    """Ids for records `local` (0-based, per patient) of patients `pnum`."""
    prefix, _, _, bits = _SCHEME[table]
    local = np.asarray(local, dtype=np.int64)
    if local.size and local.max() >= (1 << bits):
        raise ValueError(f"too many {table} records for one patient")
    seq = (np.asarray(pnum, dtype=np.int64) << bits) | local
    digits = pa.array(_encode(table, seq).astype(np.int64)).cast(pa.string())
    return pc.binary_join_element_wise(prefix, pc.utf8_lpad(digits, width=_WIDTH, padding="0"), "")


def injected_record_id(table: str, counter: int) -> str:
    """An id no real record of `table` ever gets (for rows the corrupter adds)."""
    prefix = _SCHEME[table][0]
    return f"{prefix}{int(_encode(table, np.array([_INJECTED + counter]))[0]):0{_WIDTH}d}"


def patient_ids(pnum: np.ndarray) -> pa.Array:
    digits = pa.array(np.asarray(pnum, dtype=np.int64)).cast(pa.string())
    return pc.binary_join_element_wise("KOR-", pc.utf8_lpad(digits, width=6, padding="0"), "")


def injected_patient_id(counter: int) -> str:
    """A patient row added by the corrupter: 8 digits, so never a real (<= 7 digit) id."""
    return f"KOR-{90_000_000 + counter}"


def unknown_patient_id(counter: int) -> str:
    """A patient id that no patients row ever carries (for orphan rows)."""
    return f"KOR-{80_000_000 + counter}"
