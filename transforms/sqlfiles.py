"""Run the project's .sql files. Placeholders like {table} take identifiers only (checked), never
values: values go in as DuckDB variables or bound parameters."""
from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import duckdb

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")
_ROOTS = {
    "transforms": Path(__file__).parent / "sql",
    "warehouse": Path(__file__).resolve().parent.parent / "warehouse" / "sql",
}


@lru_cache(maxsize=None)
def read_sql(root: str, relpath: str) -> str:
    return (_ROOTS[root] / relpath).read_text()


def render(root: str, relpath: str, fragments: dict[str, str] | None = None, **identifiers: str) -> str:
    """Fill {placeholders}: identifiers are checked; fragments are SQL built by our own code from
    the table definitions (key-column lists and join conditions), never from input data."""
    for k, v in identifiers.items():
        if not _IDENT.match(v):
            raise ValueError(f"placeholder {k}={v!r} is not an identifier")
    values = {**(fragments or {}), **identifiers}
    text = read_sql(root, relpath)
    return text.format(**values) if values else text


def run(con: duckdb.DuckDBPyConnection, root: str, relpath: str, params: list | None = None,
        fragments: dict[str, str] | None = None, **identifiers: str):
    sql = render(root, relpath, fragments, **identifiers)
    if params is None:
        return con.execute(sql)
    return con.execute(sql, params)
