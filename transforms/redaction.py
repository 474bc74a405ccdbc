"""What an error may say. DuckDB's messages quote the value they failed on ("Could not convert
string 'Jane Doe' to INT32"), and a failed task's message reaches Prefect's logs, the run's state
and the CLI, so an unexpected error leaves a step with its quoted text and numbers blanked."""
from __future__ import annotations

import functools
import re

import duckdb

_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_NUMBER = re.compile(r"\d[\d\-/.:]{2,}")


@functools.cache
def identifier_pattern() -> re.Pattern:
    """macros.sql's identifier_re(), for text checked outside DuckDB (a report's labels, file and
    column names in messages): one pattern, one place. ASCII, as RE2's \\b and classes are."""
    from transforms import sqlfiles

    con = duckdb.connect()
    try:
        sqlfiles.run(con, "transforms", "macros.sql")
        return re.compile(con.execute("SELECT identifier_re()").fetchone()[0], re.ASCII)
    finally:
        con.close()


def has_identifier(text: str | None) -> bool:
    """True when the text holds what macros.sql's has_identifier() would find."""
    return bool(text) and identifier_pattern().search(text) is not None


def redact_text(text: str | None) -> str | None:
    """The text with what identifier_pattern() finds replaced, as macros.sql's redact() does."""
    if not text:
        return text
    p = identifier_pattern()
    return p.sub("[redacted]", p.sub("[redacted]", text))


_PLAIN_FILE = re.compile(r"[A-Za-z0-9._/-]{1,255}")


def file_label(name: str | None) -> str | None:
    """A file name given by the registry (the manifest's path, a zip's name) as it may be stored
    (source_file) and shown: as it is when it is plain (letters, digits and . _ - /), with what
    identifier_pattern() finds redacted; otherwise not at all, since a name with spaces can be a
    person's ('labs Penelope Wigglesworth.csv') and no pattern finds names."""
    if not name:
        return name
    if not _PLAIN_FILE.fullmatch(name):
        return "(file name not shown: not letters, digits and . _ - /)"
    return redact_text(name)


def redact_message(text: str) -> str:
    """The message with quoted text and numbers of 3+ characters (ids, dates, SSNs) blanked."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", text))


class StepFailed(Exception):
    """An unexpected error inside an ingest step, its message redacted. Transient ones (the file
    lock, memory, the disk) may pass on a retry; the rest would fail the same way again."""

    def __init__(self, step: str, error: BaseException):
        self.step, self.kind = step, type(error).__name__
        self.transient = isinstance(error, (duckdb.IOException, duckdb.OutOfMemoryException, OSError, MemoryError))
        first = redact_text(redact_message(str(error))).strip().splitlines()  # an unquoted path's email
        super().__init__(f"step {step} failed: {self.kind}: {first[0] if first else ''}")


def contained(step: str, passes: tuple[type[BaseException], ...] = ()):
    """Decorator: let `passes` (errors that already say what they mean) through; turn any other
    exception into StepFailed, without the original chained (its message is the unredacted one)."""

    def wrap(fn):
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (StepFailed, *passes):
                raise
            except Exception as e:  # noqa: BLE001 - re-raised, redacted
                raise StepFailed(step, e) from None

        return inner

    return wrap
