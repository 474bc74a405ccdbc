"""One REDCap value, typed by its dictionary field: dates to ISO 8601, numbers checked against the
project's own text_validation_min/max.

The canonical staging SQL reads ISO dates only, while REDCap exports dates as YYYY-MM-DD through
the API but as M/D/Y or D/M/Y from some UI exports; a date is rewritten only when its order is
known (the field's date_mdy/date_dmy validation, or the mapping's date_order), otherwise it is
left as it arrived and fails the date rule visibly. A number outside the project's own range is
not silently clipped or dropped: it becomes a text that says so, which fails its column's type
rule, so the row is quarantined with a message a data manager can act on. Numbers of a
*_comma_decimal field (72,5) are given with a dot, as the canonical columns read them.
"""
from __future__ import annotations

import re
from datetime import date, datetime

from transforms.adapters.redcap_dictionary import Field

ISO_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
OTHER_RE = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")
NOT_COMPLETED = "[not completed]"


def normalise_date(value: str, order: str) -> str:
    """ISO text for a REDCap date/datetime, or the value unchanged when it cannot be read safely."""
    m = ISO_RE.match(value)
    if m:
        y, mo, d, hh, mi, ss = m.groups()
    else:
        m = OTHER_RE.match(value)
        if not m or order not in ("MDY", "DMY"):
            return value
        a, b, y, hh, mi, ss = m.groups()
        mo, d = (a, b) if order == "MDY" else (b, a)
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        return value
    if hh is None:
        return day.isoformat()
    try:
        ts = datetime(day.year, day.month, day.day, int(hh), int(mi), int(ss or 0))
    except ValueError:
        return value
    return ts.isoformat(sep=" ")


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def out_of_range(value: str, f: Field) -> bool:
    """True when a number or ISO date lies outside the field's text_validation_min/max."""
    if f.kind == "number":
        v = _number(value)
        if v is None:
            return False
        lo = _number(f.vmin.replace(",", ".")) if f.vmin else None  # a comma field's bounds: 0,5
        hi = _number(f.vmax.replace(",", ".")) if f.vmax else None
        return (lo is not None and v < lo) or (hi is not None and v > hi)
    if f.kind in ("date", "datetime") and ISO_RE.match(value):
        lo = f.vmin if ISO_RE.match(f.vmin or "") else None
        hi = f.vmax if ISO_RE.match(f.vmax or "") else None
        return (lo is not None and value[:10] < lo[:10]) or (hi is not None and value[:10] > hi[:10])
    return False


def typed(value: str, f: Field | None, default_order: str) -> tuple[str, bool]:
    """(value as the canonical tables want it, whether it broke the dictionary's range)."""
    value = value.strip()
    if not value or value == NOT_COMPLETED:
        return "", False
    if f is None:
        return value, False
    if f.kind in ("date", "datetime"):
        order = f.date_order if f.date_order in ("MDY", "DMY") else default_order
        value = normalise_date(value, order)
    if f.kind == "number" and f.validation.endswith("comma_decimal"):
        value = value.replace(",", ".")  # REDCap keeps such numbers as typed: 72,5
    if out_of_range(value, f):
        bounds = f"{f.vmin or '-inf'}..{f.vmax or 'inf'}"
        return f"{value} (outside REDCap range {bounds} of {f.name})", True
    return value, False


def as_integer(value: str) -> str:
    """'3.0' -> '3' (Synthea and some REDCap calc exports write whole scores with a decimal)."""
    v = _number(value)
    if v is not None and v.is_integer():
        return str(int(v))
    return value
