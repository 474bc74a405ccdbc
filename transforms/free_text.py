"""Patient ids inside free text (an AE term 'KOR-000123 fell at home', a lab unit, a site name)
and inside any value the quarantine keeps.

The identifier pattern (macros.sql redact()) cannot know a registry's patient ids; their keys can.
While the key is at hand, every stretch of one to four words of the export's free text is keyed
as written, upper-cased and lower-cased (pk_text: few, one set per distinct value); once the
warehouse is attached, the stretches whose key is a patient's (this export's, or any the
registry's core or history holds) are the ids, and staging replaces them (id_text, read by
macros.sql's unid()). Quarantined values are scrubbed the same way after the split.

Short words and numbers cannot be told from ids: a registry numbering its patients 1, 2, 3 would
see '12 hours' redacted. A stretch is a candidate only from 4 characters on, and a plain number
only from 6 digits on; shorter ids are not found (docs/privacy.md).
"""
from __future__ import annotations

import json
import re

import duckdb
import pyarrow as pa

from transforms import sqlfiles
from transforms.pseudonymise import patient_key

FREE_TEXT = {"patients": ("site_id",), "adverse_events": ("term", "meddra_pt"), "labs": ("test", "unit")}
MAX_WORDS = 4
REPLACEMENT = "[redacted]"
_WORD = re.compile(r"[^\W_]+")  # a run of letters or digits; anything else separates


def eligible(s: str) -> bool:
    digits = re.sub(r"[\W_]", "", s)
    return len(s) >= 4 and bool(digits) and not (digits.isdigit() and len(digits) < 6)


def candidates(value: str) -> set[str]:
    """The stretches of value that could be a patient id: the value itself, and every run of 1 to
    MAX_WORDS words with what separates them, as written."""
    out = {value.strip()} if eligible(value.strip()) else set()
    words = [m.span() for m in _WORD.finditer(value)]
    for i, (start, _) in enumerate(words):
        for _, end in words[i:i + MAX_WORDS]:
            if eligible(value[start:end]):
                out.add(value[start:end])
    return out


def variants(stretch: str) -> set[str]:
    """How a registry may have written the id: as in the text, upper- or lower-cased."""
    return {stretch, stretch.upper(), stretch.lower()}


def scrub(value: str, ids: set[str]) -> str:
    """value with every stretch in ids replaced where it stands between word boundaries."""
    for stretch in sorted(ids, key=len, reverse=True):
        value = re.sub(rf"(?<![^\W_]){re.escape(stretch)}(?![^\W_])", REPLACEMENT, value)
    return value


def _keyed(values, key: bytes, registry_id: str) -> list[tuple[str, str, str]]:
    """(value, stretch, key of one way of writing it) for every candidate stretch of values."""
    rows = [(v, s, form) for v in values for s in candidates(v) for form in variants(s)]
    keys = {form: patient_key(key, registry_id, form) for form in {f for _, _, f in rows}}
    return [(v, s, keys[form]) for v, s, form in rows]


def key_free_text(con: duckdb.DuckDBPyConnection, key: bytes, registry_id: str, raw_tables: list[str]) -> None:
    """pk_text(value, token, patient_key): the keyed candidates of every distinct free-text value."""
    parts = [f'SELECT DISTINCT txt("{c}") AS v FROM raw_{t}' for t in raw_tables for c in FREE_TEXT.get(t, ())]
    texts = [r[0] for r in con.execute(" UNION ".join(parts)).fetchall() if r[0]] if parts else []
    rows = _keyed(texts, key, registry_id)
    con.register("_pt_arrow", pa.table({"value": pa.array([r[0] for r in rows], pa.string()),
                                        "token": pa.array([r[1] for r in rows], pa.string()),
                                        "patient_key": pa.array([r[2] for r in rows], pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE pk_text AS SELECT * FROM _pt_arrow")
    con.unregister("_pt_arrow")


def mark_ids(con: duckdb.DuckDBPyConnection) -> int:
    """Fill id_text (value -> value with its patient ids replaced) for staging, and known_keys for
    the quarantine's scrub; the warehouse must be attached as wh. Returns how many values hold an id."""
    sqlfiles.run(con, "transforms", "staging/id_text.sql")
    found: dict[str, set[str]] = {}
    for value, token in con.execute("SELECT value, token FROM id_tokens").fetchall():
        found.setdefault(value, set()).add(token)
    con.register("_id_text", pa.table({"value": pa.array(list(found), pa.string()),
                                       "clean": pa.array([scrub(v, ids) for v, ids in found.items()], pa.string())}))
    con.execute("INSERT INTO id_text SELECT * FROM _id_text")
    con.unregister("_id_text")
    return len(found)


def scrub_quarantine(con: duckdb.DuckDBPyConnection, key: bytes, registry_id: str) -> int:
    """Replace patient ids inside the values the quarantine keeps (q_rows), any column: a coded or
    numeric column of a rejected row, or a malformed line's field, may hold one as much as free
    text. Few rows; needs known_keys (mark_ids). Returns how many rows changed."""
    rows = [(rowid, json.loads(raw)) for rowid, raw in con.execute("SELECT rowid, raw_values FROM q_rows").fetchall()]
    values = {v for _, kept in rows for k, v in kept.items()
              if isinstance(v, str) and k != "patient_id" and not k.startswith("_")}
    known = {k for (k,) in con.execute("SELECT patient_key FROM known_keys").fetchall()}
    found: dict[str, set[str]] = {}
    for value, stretch, k in _keyed(sorted(values), key, registry_id):
        if k in known:
            found.setdefault(value, set()).add(stretch)
    if not found:
        return 0
    changed = []
    for rowid, kept in rows:
        new = {k: scrub(v, found[v]) if isinstance(v, str) and v in found and k != "patient_id"
               and not k.startswith("_") else v for k, v in kept.items()}
        if new != kept:
            changed.append((json.dumps(new), rowid))
    con.executemany("UPDATE q_rows SET raw_values = ? WHERE rowid = ?", changed)
    return len(changed)
