"""Patient ids inside free text (an AE term 'KOR-000123 fell at home', a lab unit, a site name).

The identifier pattern (macros.sql redact()) cannot know a registry's patient ids; their keys can:
pseudonymise.py keys every word of the export's free text, and here the words whose key is a
patient's are replaced. Staging and the quarantine read the result through macros.sql's unid().
"""
from __future__ import annotations

import re

import duckdb
import pyarrow as pa

from transforms import sqlfiles
from transforms.pseudonymise import TEXT_SPLIT, TEXT_STRIP

REPLACEMENT = "[redacted]"


def scrub(value: str, ids: set[str]) -> str:
    """value with each word that is (or, without the punctuation around it, holds) one of ids
    replaced; the value itself when it is one."""
    if value in ids:
        return REPLACEMENT
    parts = re.split(TEXT_SPLIT, value)
    for i in range(0, len(parts), 2):
        word = parts[i]
        core = word.strip(TEXT_STRIP)
        if word in ids:
            parts[i] = REPLACEMENT
        elif core and core in ids:
            parts[i] = word.replace(core, REPLACEMENT, 1)
    return "".join(parts)


def mark_ids(con: duckdb.DuckDBPyConnection) -> int:
    """Set the variable id_text (value -> value with patient ids replaced) for this export; the
    warehouse must be attached as wh and pk_text built. Returns how many values hold an id."""
    sqlfiles.run(con, "transforms", "staging/id_text.sql")
    found: dict[str, set[str]] = {}
    for value, token in con.execute("SELECT value, token FROM id_tokens").fetchall():
        found.setdefault(value, set()).add(token)
    clean = {v: scrub(v, ids) for v, ids in found.items()}
    con.register("_id_text", pa.table({"value": pa.array(list(clean), pa.string()),
                                       "clean": pa.array(list(clean.values()), pa.string())}))
    con.execute("SET VARIABLE id_text = (SELECT map(list(value), list(clean)) FROM _id_text)")
    con.unregister("_id_text")
    return len(clean)
