"""Replace patient ids by keyed hashes (contract section 5).

patient_key = HMAC-SHA-256(key, registry_id + U+001F + patient_id), hex. The key lives outside the
warehouse (OUTCOMES_PSEUDONYM_KEY, or a file named by OUTCOMES_PSEUDONYM_KEY_FILE); without it the
mapping can be neither reversed nor rebuilt, and the pipeline refuses to run. Ids are hashed once
per distinct value in Python (few: one per patient) and joined in DuckDB, so the cost does not
grow with the number of rows.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

import duckdb
import pyarrow as pa

MIN_KEY_BYTES = 16
PATIENT_TABLES = ("patients", "sessions", "assessments", "adverse_events", "labs")


class MissingKeyError(RuntimeError):
    """No usable pseudonymisation key: refusing to run."""


def key_file(env: dict | None = None) -> Path | None:
    """The key file load_key reads: OUTCOMES_PSEUDONYM_KEY_FILE, unless OUTCOMES_PSEUDONYM_KEY is set."""
    env = os.environ if env is None else env
    if env.get("OUTCOMES_PSEUDONYM_KEY") or not env.get("OUTCOMES_PSEUDONYM_KEY_FILE"):
        return None
    return Path(env["OUTCOMES_PSEUDONYM_KEY_FILE"]).expanduser()


def load_key(env: dict | None = None) -> bytes:
    env = os.environ if env is None else env
    path = key_file(env)
    if path is not None:
        return read_key_file(path)
    value = env.get("OUTCOMES_PSEUDONYM_KEY")
    if not value:
        raise MissingKeyError(
            "no pseudonymisation key: set OUTCOMES_PSEUDONYM_KEY, or OUTCOMES_PSEUDONYM_KEY_FILE to a key file "
            "(`outcomes key init --print-env` creates one and prints the line that sets it)"
        )
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise MissingKeyError(f"the pseudonymisation key from OUTCOMES_PSEUDONYM_KEY is shorter than {MIN_KEY_BYTES} bytes")
    return key


def read_key_file(path: Path) -> bytes:
    """The key a key file holds. The error names the file: the variable naming it is set, so
    saying "set it" would not help."""
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise MissingKeyError(f"cannot read the pseudonymisation key file {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise MissingKeyError(f"the pseudonymisation key file {path} is not UTF-8 text") from None
    if not value:
        raise MissingKeyError(f"the pseudonymisation key file {path} is empty")
    key = value.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise MissingKeyError(f"the pseudonymisation key file {path} is shorter than {MIN_KEY_BYTES} bytes")
    return key


def key_file_warning(path: Path) -> str | None:
    """One line when group or others have access to the key file (whoever can read it can link
    patient keys back to ids), else None. A warning, not a refusal: the mode is the operator's call."""
    try:
        mode = path.stat().st_mode & 0o777
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return f"warning: the pseudonymisation key file {path} is open to group or others (mode {mode:04o}): chmod 600 it"


# The fields inside one value of a malformed line: an unclosed quote swallows the lines after it,
# ids and all, into one value. split.collect_malformed splits alike (TOKEN_SPLIT, TOKEN_STRIP).
MALFORMED_TOKENS = "trim(unnest(regexp_split_to_array(v, '[,\\r\\n]+')), ' ' || chr(9) || '\"' || chr(39))"
TOKEN_SPLIT, TOKEN_STRIP = r"([,\r\n]+)", " \t\"'"


def patient_key(key: bytes, registry_id: str, patient_id: str) -> str:
    msg = f"{registry_id}\x1f{patient_id}".encode("utf-8")
    return hmac.new(key, msg, hashlib.sha256).hexdigest()


def build_key_map(con: duckdb.DuckDBPyConnection, key: bytes, registry_id: str, raw_tables: list[str]) -> int:
    """Create temp table pk_map(patient_id, patient_key) for every raw patient id of the export."""
    parts = [f"SELECT DISTINCT txt(patient_id) AS patient_id FROM raw_{t}" for t in raw_tables if t in PATIENT_TABLES]
    ids: list[str] = []
    if parts:
        ids = [r[0] for r in con.execute(" UNION ".join(parts)).fetchall() if r[0]]
    # Malformed lines: their patient_id field's ids, and every other value, keyed too (few lines,
    # few values): a shifted field may hold the id of a patient this export does not name but the
    # warehouse holds, which only its key can tell (split.collect_malformed keys it when the key is
    # a known patient's).
    values: list[str] = []
    for t in raw_tables:
        if con.execute(f"SELECT count(*) FROM duckdb_tables() WHERE table_name = 'malformed_{t}'").fetchone()[0]:
            ids += [r[0] for r in con.execute(
                f"SELECT DISTINCT txt(element_at(\"values\", 'patient_id')[1]) FROM malformed_{t}").fetchall() if r[0]]
            values += [r[0] for r in con.execute(
                f'SELECT DISTINCT txt(v) FROM (SELECT unnest(map_values("values")) AS v FROM malformed_{t}) UNION '
                f'SELECT DISTINCT {MALFORMED_TOKENS} FROM (SELECT unnest(map_values("values")) AS v FROM malformed_{t})'
            ).fetchall() if r[0]]
    if "patients" in raw_tables and con.execute(  # patients the export says were deleted (FHIR Bulk)
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'deleted_patients'").fetchone()[0]:
        ids += [r[0] for r in con.execute("SELECT DISTINCT txt(key) FROM deleted_patients").fetchall() if r[0]]
    ids = sorted(set(ids))
    keys = [patient_key(key, registry_id, i) for i in ids]
    values = sorted(set(values))
    con.register("_pv_arrow", pa.table({"value": pa.array(values, pa.string()),
                                        "patient_key": pa.array([patient_key(key, registry_id, v) for v in values],
                                                                pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE pk_values AS SELECT * FROM _pv_arrow")
    con.unregister("_pv_arrow")
    # typed: an export without a single patient id (an incremental of deletions only) would make
    # untyped columns, which DuckDB reads as INTEGER and cannot compare with the VARCHAR ids
    con.register("_pk_arrow", pa.table({"patient_id": pa.array(ids, pa.string()),
                                        "patient_key": pa.array(keys, pa.string())}))
    con.execute("CREATE OR REPLACE TEMP TABLE pk_map AS SELECT * FROM _pk_arrow")
    con.unregister("_pk_arrow")
    from transforms.free_text import key_free_text  # (it keys with patient_key, from here)

    key_free_text(con, key, registry_id, raw_tables)
    return len(ids)

