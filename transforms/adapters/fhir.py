"""The FHIR adapter: a Bulk Data `$export` result (manifest + NDJSON) -> the canonical tables.

Resources are loaded once into a workspace table fhir_res(_line, rtype, id, j JSON) with DuckDB's
NDJSON reader, and the tables are derived from it by the SQL files in sql/fhir_*.sql (see each for
its rules); PHQ-9 and GAD-7 QuestionnaireResponses go through fhir_questionnaire. Resource types no
table reads are skipped and counted, as are the server's log.ndjson and error files. _line is the
resource's line in its NDJSON file; the k-th extra file of one resource type adds k * 10^9.
The manifest's `deleted` files (an incremental export's deletions) become deleted_<table> work
tables of the records to withdraw (fhir_deleted.py, sql/fhir_deleted.sql).
Registered as "fhir" when this module is imported.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from transforms.adapters import Adapter, fhir_codes, fhir_deleted, fhir_questionnaire, register
from transforms.adapters.fhir_export import LOG, is_fhir_folder, open_export
from transforms.adapters.redcap_raw import write_raw
from transforms.adapters.redcap_rows import LINE_STRIDE
from transforms.bundle import Bundle, BundleError
from transforms.read import ReadResult
from transforms.tables import TABLES

SQL = Path(__file__).parent / "sql"
USED_TYPES = {"Patient", "Encounter", "MedicationAdministration", "Medication", "Observation",
              "QuestionnaireResponse", "AdverseEvent", "Condition"}
# assessments come from two resource types whose line numbers overlap (line 1 of the Observation file,
# line 1 of the QuestionnaireResponse file); staging keys a table's rows by _line (quarantined rows
# are deleted by it), so QuestionnaireResponse rows add this offset. It exceeds any Observation
# file's k * LINE_STRIDE for fewer than a million files. A response holding both PHQ-9 and GAD-7 makes
# two rows: its k-th instrument's row adds (k + 1) * QR_LINE_OFFSET (fhir_questionnaire.assessment_rows).
QR_LINE_OFFSET = 1_000_000 * LINE_STRIDE
TABLE_TYPES = {"patients": "Patient", "sessions": "MedicationAdministration", "vitals": "Observation",
               "assessments": "Observation", "adverse_events": "AdverseEvent", "labs": "Observation"}


@dataclass
class FhirReadResult(ReadResult):
    """ReadResult plus what was not read: resources by type for the whole export (the same dict on
    every table's result), e.g. {"Procedure": 2056, "log.ndjson": 4, "MedicationAdministration/not-done": 1}."""
    skipped: dict[str, int] = field(default_factory=dict)


def detect(path: Path) -> bool:
    return is_fhir_folder(Path(path))


def open(source, **options) -> Bundle:  # noqa: A001 - the adapter protocol's name
    return open_export(source, **options)


def _run(con, name: str) -> None:
    con.execute((SQL / name).read_text())


def _bad_line(path: Path) -> str:
    """', line N is not a JSON object' for the first such line, to name it in the error (never its text,
    which may hold identifiers); '' when none is found."""
    import json

    try:
        with path.open(encoding="utf-8", errors="replace") as fh:  # this module defines open()
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    ok = isinstance(json.loads(line), dict)
                except ValueError:
                    ok = False
                if not ok:
                    return f", line {n} is not a JSON object"
    except OSError:
        pass
    return ""


# Blank (or whitespace-only) lines, which DuckDB's NDJSON reader skips: after one followed by more
# content its ordinals are no longer line numbers. Patterns with a literal start, so that the
# common file without one costs a pass at memchr speed (~0.03 s per 66 MB).
_LEADING_BLANK = re.compile(rb"[ \t\r\f\v]*\n")
_BLANK_LINE = re.compile(rb"\n[ \t\r\f\v]*\n")
_CONTENT = re.compile(rb"[^ \t\r\f\v\n]")


def object_lines(path: Path) -> list[int] | None:
    """The line number of each object of an NDJSON file, in order, when blank lines shift them; None
    when none does (then the reader's ordinal is the line). One search over the mapped file; the
    lines are counted one by one only for a file with a blank line that has content after it."""
    import mmap

    if path.stat().st_size == 0:
        return None
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        blank = _LEADING_BLANK.match(mm) or _BLANK_LINE.search(mm)
        if blank is None or _CONTENT.search(mm, blank.end()) is None:
            return None
        return [n for n, line in enumerate(iter(mm.readline, b""), 1) if line.strip()]


def load_resources(con: duckdb.DuckDBPyConnection, files: list[tuple[str, Path]], export: str) -> dict[str, str]:
    """fhir_res from every NDJSON file; returns resource type -> the first file it was found in."""
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_res (_line BIGINT, file VARCHAR, rtype VARCHAR, id VARCHAR, j JSON)")
    per_type: dict[str, int] = {}
    first: dict[str, str] = {}
    for declared, path in files:
        k = per_type.get(declared, 0)
        per_type[declared] = k + 1
        lines = object_lines(path)
        try:
            if lines is None:
                con.execute(
                    "INSERT INTO fhir_res SELECT ? + ordinality, ?, json_extract_string(json, '$.resourceType'), json_extract_string(json, '$.id'), json "
                    "FROM read_json_objects(?, format = 'newline_delimited') WITH ORDINALITY",
                    [k * LINE_STRIDE, path.name, str(path)])
            else:  # the reader's n-th object is on line lines[n - 1]
                con.register("_ndjson_lines", pa.table({"ord": pa.array(range(1, len(lines) + 1), pa.int64()),
                                                        "line": pa.array(lines, pa.int64())}))
                try:
                    con.execute(
                        "INSERT INTO fhir_res SELECT ? + coalesce(m.line, r.ordinality), ?, json_extract_string(r.json, '$.resourceType'), "
                        "json_extract_string(r.json, '$.id'), r.json "
                        "FROM read_json_objects(?, format = 'newline_delimited') WITH ORDINALITY r "
                        "LEFT JOIN _ndjson_lines m ON m.ord = r.ordinality",
                        [k * LINE_STRIDE, path.name, str(path)])
                finally:
                    con.unregister("_ndjson_lines")
        except duckdb.Error as e:
            raise BundleError("fhir.ndjson", f"NDJSON cannot be read ({type(e).__name__}{_bad_line(path)})", export,
                              path.name) from None
    for rtype, name in con.execute("SELECT rtype, min_by(file, _line) FROM fhir_res GROUP BY rtype").fetchall():
        first[rtype] = name
    return first


def _skipped(con, bundle: Bundle) -> dict[str, int]:
    out = dict(con.execute(
        "SELECT coalesce(rtype, '(no resourceType)'), count(*) FROM fhir_res WHERE rtype IS NULL OR rtype NOT IN "
        "(SELECT unnest(?::VARCHAR[])) GROUP BY 1 ORDER BY 1", [sorted(USED_TYPES)]).fetchall())
    out.update(dict(con.execute(
        "SELECT 'MedicationAdministration/' || coalesce(json_extract_string(j, '$.status'), '?'), count(*) FROM fhir_res "
        "WHERE rtype = 'MedicationAdministration' AND coalesce(json_extract_string(j, '$.status'), '?') NOT IN "
        "('completed', 'in-progress', 'stopped') GROUP BY 1").fetchall()))
    unused_obs = con.execute(
        "SELECT count(DISTINCT id) FROM fhir_res WHERE rtype = 'Observation' AND id NOT IN "
        "(SELECT id FROM fhir_obs WHERE code IN ('8480-6','8462-4','8867-4','59408-5','2708-6','29463-7') "
        " OR code IN (SELECT code FROM fhir_instruments) OR code IN (SELECT code FROM fhir_lab_codes)"
        " OR (code IN (SELECT code FROM fhir_items) AND id IN (SELECT member FROM fhir_obs_members)))").fetchone()[0]
    out.update(dict(con.execute(
        "SELECT 'AdverseEvent/' || json_extract_string(j, '$.actuality'), count(*) FROM fhir_res "
        "WHERE rtype = 'AdverseEvent' AND coalesce(json_extract_string(j, '$.actuality'), 'actual') <> 'actual' "
        "GROUP BY 1").fetchall()))
    if unused_obs:
        out["Observation/unused code"] = unused_obs
    unattributed = con.execute("SELECT count(*) FROM fhir_ae_suspects WHERE unattributed").fetchone()[0]
    if unattributed:  # read, but with `related` left empty rather than another drug's assessment
        out["AdverseEvent/relatedness left empty: several suspects, none the ketamine treatment"] = unattributed
    lone = con.execute(
        "SELECT count(DISTINCT id) FROM fhir_obs WHERE session_id IS NULL "
        "AND code IN ('8480-6','8462-4','8867-4','59408-5','2708-6')").fetchone()[0]
    if lone:
        out["Observation/vital sign outside a treatment session"] = lone
    others = con.execute("SELECT count(*) FROM fhir_admins WHERE drug = 'other' AND ketamine_session").fetchone()[0]
    if others:
        out["MedicationAdministration/other drug in a ketamine session"] = others
    far = con.execute("SELECT count(DISTINCT _line) FROM fhir_vitals_all WHERE NOT near_dose").fetchone()[0]
    if far:
        out["Observation/vital sign more than 12 h before or 24 h after the dose"] = far
    superseded = con.execute("SELECT n FROM fhir_vitals_superseded").fetchone()[0]
    if superseded:
        out["Observation/vital sign superseded by a later reading of the same time point"] = superseded
    root = Path(bundle.root)
    if (root / LOG).is_file():
        out[LOG] = sum(1 for line in (root / LOG).read_text(errors="replace").splitlines() if line.strip())
    for p in getattr(bundle, "fhir_errors", []):
        out[f"error file {p.name}"] = sum(1 for line in p.read_text(errors="replace").splitlines() if line.strip())
    return out


def _to_raw(con, table: str, src: str) -> int:
    have = {r[0] for r in con.execute(f"DESCRIBE {src}").fetchall()}
    cols = ", ".join((f'CAST("{c}" AS VARCHAR)' if c in have else "CAST(NULL AS VARCHAR)") + f' AS "{c}"'
                     for c in TABLES[table].column_names)
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_{table} AS SELECT _line::BIGINT AS _line, {cols} FROM {src} "
                "ORDER BY _line")
    return con.execute(f"SELECT count(*) FROM raw_{table}").fetchone()[0]


def read(con, bundle: Bundle) -> dict[str, ReadResult]:
    first = load_resources(con, bundle.fhir_files, bundle.export_id)  # type: ignore[attr-defined]
    _run(con, "fhir_macros.sql")
    fhir_codes.install(con)
    for name in ("fhir_sessions", "fhir_obs", "fhir_patients", "fhir_vitals", "fhir_assessments",
                 "fhir_adverse_events", "fhir_labs"):
        _run(con, f"{name}.sql")
    con.execute("UPDATE fhir_out_adverse_events SET session_id = NULL "
                "WHERE session_id NOT IN (SELECT session_id FROM fhir_sessions)")
    qr_skipped: dict[str, int] = {}
    qr = fhir_questionnaire.rows(con, qr_skipped, QR_LINE_OFFSET, bundle.export_id, LINE_STRIDE)
    if qr:
        write_raw(con, "assessments", qr)
        con.execute("INSERT INTO fhir_out_assessments BY NAME SELECT * FROM raw_assessments")
    deleted_skipped: dict[str, int] = {}
    refs = fhir_deleted.parse(getattr(bundle, "fhir_deleted", []), deleted_skipped)
    fhir_deleted.install(con, refs, deleted_skipped, SQL / "fhir_deleted.sql", QR_LINE_OFFSET)
    skipped = _skipped(con, bundle)
    skipped.update(qr_skipped)
    skipped.update(deleted_skipped)
    bundle.skipped = skipped  # type: ignore[attr-defined]
    results = {}
    for table in TABLES:
        src = "fhir_sessions" if table == "sessions" else f"fhir_out_{table}"
        rows = _to_raw(con, table, src)
        rtype = "QuestionnaireResponse" if table == "assessments" and "Observation" not in first else TABLE_TYPES[table]
        results[table] = FhirReadResult(table=table, file=first.get(rtype, "-"), rows=rows, malformed=0,
                                        skipped=skipped,
                                        deleted_table=f"deleted_{table}" if table in fhir_deleted.TABLES else None)
    return results


register("fhir", lambda: Adapter("fhir", detect, open, read))
