"""Read one table file of an export into DuckDB as text, exactly as it arrived.

Everything is read as VARCHAR (typing is the staging SQL's job, so a bad value becomes a rule
violation instead of a failed load). Only the contract's columns are kept: a column the contract
does not name, direct identifiers included, is dropped here, before anything is written, and
reported by name. Malformed CSV lines (too many or too few fields) are captured by DuckDB's
reject tables with their line numbers and become quarantine rows.

A CSV row's number (source_row) is its record number: the header is line 1 and each record counts
one line, so the n-th record after the header is line n + 1. A quoted field with a newline in it
does not start a new line, and a blank line is no record and is not counted (DuckDB skips it).
Good rows get this from their ordinal alone, with no pass over the file. DuckDB's reject tables
count blank lines as lines, so when a file has malformed lines their numbers are corrected for
the blank lines before them: a regex search for a blank line (~0.1 s per 2M rows; a gzip file is
decompressed for it, ~0.25 s), then a pass with the csv module (~1.2 s per 2M rows) only when one
may precede a malformed line. Parquet rows are numbered from 1.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field

import duckdb

from transforms import sqlfiles
from transforms.bundle import BundleError, ExportFile
from transforms.tables import TABLES, is_identifier_column, normalise_column_name
from transforms.redaction import file_label, has_identifier, redact_text


@dataclass
class ReadResult:
    table: str
    file: str
    rows: int  # good records + malformed records
    malformed: int
    dropped_columns: list[str] = field(default_factory=list)
    identifier_columns: list[str] = field(default_factory=list)
    missing_columns: list[str] = field(default_factory=list)
    malformed_table: str | None = None  # temp table (_line, error, fields_found, fields_expected, values)
    # temp table (key, min_row, max_row): records the export says were deleted (FHIR Bulk `deleted`),
    # key as the adapter read it (a patient id for patients); bounds on the records' source_row
    deleted_table: str | None = None


# What a header name may be repeated as (after normalise_column_name): letters, digits and
# underscores. Anything else (a space, a dot, an @) may be a value typed into the header, such as
# a person's name ('ivy quillfeather') or an email, so it is told by its position only.
_COLUMN_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def read_table(con: duckdb.DuckDBPyConnection, f: ExportFile, export: str) -> ReadResult:
    """Make raw_<table>(_line, <contract columns as VARCHAR>) from one file: a view over the rows as
    read (src_<table>), or a table when malformed lines shift the line numbers."""
    import gzip
    import zlib

    try:
        return _read_table(con, f, export)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        # a .gz that is not gzip, or cut short: Python's readers meet it before DuckDB's (the header,
        # the blank-line scan); the file is broken, not the machine, so it rejects the export
        raise BundleError("bundle.unreadable", f"gzip cannot be read ({type(e).__name__})", export,
                          f.relpath) from None


def _read_table(con: duckdb.DuckDBPyConnection, f: ExportFile, export: str) -> ReadResult:
    table = TABLES[f.table]
    src = f"src_{f.table}"
    rej = f"rej_{f.table}"
    path = _lit(str(f.path))
    drop_raw(con, f.table)
    if f.format == "csv":
        con.execute(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {rej}_scan")
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT * FROM read_csv({path}, all_varchar = true, "
                f"header = true, delim = ',', quote = '\"', escape = '\"', auto_detect = false, "
                f"null_padding = false, strict_mode = true, store_rejects = true, rejects_table = '{rej}', "
                f"rejects_scan = '{rej}_scan', compression = 'auto', max_line_size = 4194304, "
                f"columns = {_header_columns(f, export)})"
            )
        except duckdb.Error as e:
            # from None: DuckDB's message quotes the file's text, which may hold identifiers
            raise BundleError("bundle.unreadable", f"CSV cannot be read ({type(e).__name__})", export,
                              f.relpath) from None
        ordinal = "rowid"
    else:
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {src} AS SELECT * FROM read_parquet({path}, file_row_number = true)"
            )
        except duckdb.Error as e:
            raise BundleError("bundle.unreadable", f"Parquet cannot be read ({type(e).__name__})", export,
                              f.relpath) from None
        ordinal = None

    types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {src})").fetchall())
    described = list(types)
    if ordinal is None:
        described = [c for c in described if c != "file_row_number"]
    by_name: dict[str, str] = {}
    position: dict[str, int] = {}  # 1 = the first column
    for i, c in enumerate(described, 1):
        n = normalise_column_name(c)
        if n in by_name:
            raise _twice(n, position[n], i, export, f.relpath)
        by_name[n], position[n] = c, i
    allowed = set(table.column_names)
    dropped = sorted(n for n in by_name if n not in allowed)
    missing = [c for c in table.column_names if c not in by_name]
    lacking = [c.name for c in table.columns if c.required and c.name not in by_name]
    if lacking:
        # A header without the table's required columns is no header (a file that starts with a
        # data row) or the wrong file: its names may be a patient's values, so none is repeated.
        raise BundleError("bundle.header", f"header lacks required column(s) {', '.join(lacking)}"
                          + (f"; {len(dropped)} column(s) outside the contract, not named" if dropped else ""),
                          export, f.relpath)
    # plain names first, then the others by position, told without their text
    dropped = [n for n in dropped if shown_name(n)] + sorted((n for n in dropped if not shown_name(n)),
                                                            key=position.get)

    result = ReadResult(
        table=f.table,
        file=file_label(f.relpath),  # lineage (source_file) and messages
        rows=0,
        malformed=0,
        dropped_columns=[column_label(n, position[n]) for n in dropped],
        identifier_columns=[column_label(n, position[n]) for n in dropped if is_identifier_column(n)],
        missing_columns=missing,
    )

    select = []
    for c in table.column_names:
        if c in by_name:
            select.append(f"{_as_text(_q(by_name[c]), types.get(by_name[c], 'VARCHAR'), table.column(c).type)} AS {_q(c)}")
        else:
            select.append(f"CAST(NULL AS VARCHAR) AS {_q(c)}")
    cols_sql = ", ".join(select)

    if f.format == "parquet":
        con.execute(
            f"CREATE TEMP VIEW raw_{f.table} AS SELECT (file_row_number + 1)::BIGINT AS _line, {cols_sql} "
            f"FROM {src}"
        )
    else:
        # Records DuckDB rejected are not in src, so a good row's line is its ordinal plus the
        # rejected records before it: r(g) = g + #{j : r_j - j < g} over the sorted rejected records.
        n_rej = con.execute(f"SELECT count(DISTINCT line) FROM {rej}").fetchone()[0]
        records: dict[int, int] = {}
        if n_rej == 0:  # the usual case: a view, no copy (10M rows of text cost ~1 s to copy)
            line_sql = f"(s.{ordinal} + 2)::BIGINT"
            con.execute(f"CREATE TEMP VIEW raw_{f.table} AS SELECT {line_sql} AS _line, {cols_sql} FROM {src} s")
        else:
            # the reject table's line counts blank lines; a record's line does not
            rej_lines = [r[0] for r in con.execute(f"SELECT DISTINCT line FROM {rej} ORDER BY line").fetchall()]
            records = _record_lines(f, rej_lines)
            con.execute(f"CREATE OR REPLACE TEMP TABLE {rej}_rec AS SELECT unnest($1::BIGINT[]) AS line",
                        [[records.get(x, x) for x in rej_lines]])
            sqlfiles.run(con, "transforms", "read/raw_with_rejects.sql", fragments={"cols_sql": cols_sql},
                         table=f.table, rej=rej, src=src, ordinal=ordinal)
        result.malformed = n_rej
        result.malformed_table = _capture_malformed(con, f, rej, described, records) if n_rej else None
        con.execute(f"DROP TABLE IF EXISTS {rej}; DROP TABLE IF EXISTS {rej}_scan; DROP TABLE IF EXISTS {rej}_rec")
        if n_rej:
            con.execute(f"DROP TABLE {src}")
    good = con.execute(f"SELECT count(*) FROM raw_{f.table}").fetchone()[0]
    result.rows = good + result.malformed
    if result.rows != f.rows:
        raise BundleError(
            "bundle.rows", f"file holds {result.rows} records, manifest says {f.rows}"
            + (_quoted_spans(f) if f.format == "csv" and result.rows < f.rows else ""), export, f.relpath
        )
    return result


def _as_text(col: str, source_type: str, contract_type: str) -> str:
    """A column as the contract's text. CSV is text already; Parquet may be typed as its writer
    chose: pandas writes a whole-number column with gaps as DOUBLE (2.0) and a 0/1 flag as
    BOOLEAN, whose text the strict parsers would reject although the value is what the contract
    asks for. Those are written as the contract spells them; anything else as DuckDB casts it."""
    if source_type in ("DOUBLE", "FLOAT", "REAL"):  # NaN is how pandas writes a missing number
        whole = (f"WHEN abs({col}) < 1e15 AND {col} = trunc({col}) THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) "
                 if contract_type in ("INTEGER", "FLAG") else "")
        return f"CASE WHEN isnan({col}) THEN NULL {whole}ELSE CAST({col} AS VARCHAR) END"
    if source_type.startswith("DECIMAL") and contract_type in ("INTEGER", "FLAG"):
        return (f"CASE WHEN {col} = trunc({col}) AND abs({col}) < 1e15 THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) "
                f"ELSE CAST({col} AS VARCHAR) END")
    if source_type == "BOOLEAN":
        return f"CASE WHEN {col} THEN '1' WHEN NOT {col} THEN '0' END"
    return f"CAST({col} AS VARCHAR)"


def raw_kinds(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    """What raw_<table> is in this workspace: {'view'}, {'table'} or nothing yet."""
    return {r[0] for r in con.execute(
        "SELECT 'view' FROM duckdb_views() WHERE temporary AND view_name = $1 UNION ALL "
        "SELECT 'table' FROM duckdb_tables() WHERE temporary AND table_name = $1", [f"raw_{table}"]).fetchall()}


def drop_raw(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop raw_<table>, a view over the file's rows (src_<table>) or a table, and what it reads."""
    kinds = raw_kinds(con, table)
    if "view" in kinds:
        con.execute(f"DROP VIEW raw_{table}")
    if "table" in kinds:
        con.execute(f"DROP TABLE raw_{table}")
    con.execute(f"DROP TABLE IF EXISTS src_{table}")


def _header_columns(f: ExportFile, export: str) -> str:
    """The header's names, so every column is read as VARCHAR and named as in the file."""
    header = _first_line(f)
    if header is None:
        raise BundleError("bundle.header", "file has no header line", export, f.relpath)
    names = next(csv.reader([header]))
    if not names or all(not n.strip() for n in names):
        raise BundleError("bundle.header", "file has an empty header line", export, f.relpath)
    seen: dict[str, int] = {}
    for i, n in enumerate(names, 1):  # checked here: DuckDB's own error would quote the name
        if normalise_column_name(n) in seen:
            raise _twice(normalise_column_name(n), seen[normalise_column_name(n)], i, export, f.relpath)
        seen[normalise_column_name(n)] = i
    return "{" + ", ".join(f"{_lit(n)}: 'VARCHAR'" for n in names) + "}"


def shown_name(name: str) -> bool:
    """A header name is repeated only if it looks like a column name and holds no identifier pattern."""
    return bool(_COLUMN_NAME.fullmatch(name)) and not has_identifier(name)


def column_label(name: str, position: int) -> str:
    """A header name as dropped-column lists and messages show it: itself if shown_name, else its
    position (1 = the first column)."""
    return name if shown_name(name) else f"column {position} (its name is not shown)"


def _twice(name: str, first: int, second: int, export: str, relpath: str) -> BundleError:
    what = (f"column {name!r} appears twice" if shown_name(name)
            else f"columns {first} and {second} have the same name (not shown)")
    return BundleError("bundle.header", f"{what} in the header", export, relpath)


def _first_line(f: ExportFile) -> str | None:
    import gzip

    opener = gzip.open if f.relpath.lower().endswith(".gz") else open
    with opener(f.path, "rb") as fh:
        raw = fh.readline(4 * 1024 * 1024)
    if not raw:
        return None
    text = raw.decode("utf-8-sig", errors="replace")
    return text.rstrip("\r\n")


# A blank line DuckDB may have counted: two line ends in a row (any of \n, \r\n, \r; a \r\n pair
# alone is one end). Two searches with a literal first byte (~0.05 s per 190 MB each; one regex with
# the alternation, or bytes.find, scans ~10x slower). Also found inside quoted fields; then the
# csv module's pass finds no blank line.
_BLANK_LINE_STARTS = (re.compile(rb"\n[\r\n]"), re.compile(rb"\r\r"))
_CONTENT = re.compile(rb"[^\r\n]")


def _open_text(f: ExportFile):
    import gzip

    if f.relpath.lower().endswith(".gz"):
        return gzip.open(f.path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(f.path, encoding="utf-8-sig", errors="replace", newline="")


def _reader(fh):
    csv.field_size_limit(max(csv.field_size_limit(), 64 * 1024 * 1024))  # DuckDB allows 4 MiB lines
    return csv.reader(fh, delimiter=",", quotechar='"', doublequote=True, strict=False)


def _may_have_blank_line(f: ExportFile) -> bool:
    """False when the file certainly has no blank line before its last content: a search for each
    way a blank line starts, over the mapped file, or a compressed file's text 16 MB at a time."""
    import gzip
    import mmap

    def first_blank(buf) -> int | None:
        found = [m.start() for m in (b.search(buf) for b in _BLANK_LINE_STARTS) if m]
        return min(found) if found else None

    if f.relpath.lower().endswith(".gz"):
        seen, prev = False, b""
        with gzip.open(f.path, "rb") as fh:
            while chunk := fh.read(1 << 24):
                buf, prev = prev + chunk, chunk[-1:]  # a blank line may start at a chunk's last byte
                if seen:  # all after the blank line so far was line ends, the byte carried over too
                    if _CONTENT.search(buf):
                        return True
                elif (start := first_blank(buf)) is not None:
                    seen = True
                    if _CONTENT.search(buf, start + 1):
                        return True
        return False
    if f.path.stat().st_size == 0:
        return False
    with open(f.path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        start = first_blank(mm)
        return start is not None and _CONTENT.search(mm, start + 1) is not None


def _record_lines(f: ExportFile, rej_lines: list[int]) -> dict[int, int]:
    """Reject-table line -> record line (header = 1) for the lines DuckDB rejected.

    DuckDB's reject line counts the header, each record (however many newlines its quoted fields
    hold) and each blank line; the record line leaves the blank lines out. Only the file up to the
    last rejected line is read, and only when a blank line may come before it. {} when no blank
    line shifts them (or the csv module cannot read the file: the reject lines are kept as they are).
    """
    if not rej_lines or not _may_have_blank_line(f):
        return {}
    wanted = set(rej_lines)
    last = max(wanted)
    out: dict[int, int] = {}
    line = blanks = 0
    try:
        with _open_text(f) as fh:
            for row in _reader(fh):
                line += 1
                if not row:  # a blank line: DuckDB counts it, a record line does not
                    blanks += 1
                elif line in wanted:
                    out[line] = line - blanks
                if line >= last:
                    break
    except (csv.Error, OSError, EOFError):
        return {}
    if not blanks:
        return {}
    for x in rej_lines:  # not reached (the csv module saw fewer records): shift by every blank line seen
        out.setdefault(x, x - blanks)
    return out


def _quoted_spans(f: ExportFile) -> str:
    """Where records run over lines, for a file with fewer records than its manifest says (an
    unclosed quote swallows the lines after it): the line of the file (every newline counts, as in
    an editor, not source_row's record line) where the first such record starts, and the longest.
    A pass over the file, on this error path only. Line numbers and counts only, never a value.
    "" when no record spans lines."""
    spans: list[tuple[int, int]] = []  # (first line, lines)
    try:
        with _open_text(f) as fh:
            reader = _reader(fh)
            end = 0
            for _ in reader:
                if reader.line_num - end > 1:
                    spans.append((end + 1, reader.line_num - end))
                end = reader.line_num
    except (csv.Error, OSError, EOFError):
        return ""
    if not spans:
        return ""
    first = spans[0]
    longest = max(spans, key=lambda s: (s[1], -s[0]))
    if len(spans) == 1:
        return f"; a quoted field opened on line {first[0]} of the file runs over {first[1]} lines (an unclosed quote?)"
    text = (f"; {len(spans)} records have a quoted field that runs over lines: the first opens on line "
            f"{first[0]} of the file and runs over {first[1]} lines")
    if longest != first:
        text += f", the longest opens on line {longest[0]} and runs over {longest[1]} lines"
    return text + " (an unclosed quote?)"


def _capture_malformed(con, f: ExportFile, rej: str, header: list[str], records: dict[int, int]) -> str:
    """Keep malformed lines as quarantine material, without letting an identifier through.

    A malformed line's fields cannot be matched to columns with certainty, so values are kept only
    when the file carries no column outside the contract (nothing identifying can shift into view);
    patient ids among them are pseudonymised later, with the rest of the export's ids.
    """
    table = TABLES[f.table]
    allowed = set(table.column_names)
    normalised = [normalise_column_name(h) for h in header]
    keep_values = all(n in allowed for n in normalised)
    rows = con.execute(
        f"SELECT line, any_value(error_type)::VARCHAR, any_value(csv_line) FROM {rej} GROUP BY line ORDER BY line"
    ).fetchall()
    out = []
    for line, error, text in rows:
        fields = next(csv.reader(io.StringIO((text or "").strip("\r\n"))), [])
        values = None
        if keep_values:
            values = {normalised[i]: fields[i] for i in range(min(len(fields), len(normalised)))}
        out.append((records.get(int(line), int(line)), error, len(fields), len(header), values))
    name = f"malformed_{f.table}"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} (_line BIGINT, error VARCHAR, fields_found INTEGER, "
        f"fields_expected INTEGER, \"values\" MAP(VARCHAR, VARCHAR))"
    )
    if out:
        con.executemany(f"INSERT INTO {name} VALUES (?, ?, ?, ?, ?)", out)
    return name
