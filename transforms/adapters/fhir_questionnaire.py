"""PHQ-9 QuestionnaireResponses -> assessment rows, in Python: their item trees are irregular
(nested groups, linkIds that are LOINC codes or names) and they are few next to Observations.

Items are matched by linkId (LOINC item code, or a known name), answers read from valueCoding
(LOINC LA answer codes) or valueInteger. The total is the response's own total item when it has
one, else the sum when all nine items are there; item_scores are given only when all nine are,
so a Questionnaire that lacks item 9 still yields its total and no half-filled item list.
"""
from __future__ import annotations

import json
import re

from transforms.adapters.fhir_codes import PHQ9_ITEMS, PHQ9_LINK_NAMES, TOTAL_LINKS

ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}


def _ref(x: str | None) -> str | None:
    if not x:
        return None
    x = re.sub(r"/_history/[^/]*$", "", x)  # a versioned reference names the same resource
    return x.replace("#", "/").replace(":", "/").rstrip("/").rsplit("/", 1)[-1] or None


def _walk(items):
    for it in items or []:
        yield it
        yield from _walk(it.get("item"))
        for a in it.get("answer") or []:
            yield from _walk(a.get("item"))


def _answer(item) -> int | None:
    for a in item.get("answer") or []:
        if "valueInteger" in a:
            return int(a["valueInteger"])
        if "valueDecimal" in a and float(a["valueDecimal"]).is_integer():
            return int(a["valueDecimal"])
        code = (a.get("valueCoding") or {}).get("code")
        if code in ANSWERS:
            return ANSWERS[code]
    return None


def _position(link: str) -> int | None:
    key = link.strip().lstrip("/").lower()
    if key in PHQ9_ITEMS:
        return PHQ9_ITEMS.index(key) + 1
    if key in PHQ9_LINK_NAMES:
        return PHQ9_LINK_NAMES.index(key) + 1
    return None


def is_phq9(qr: dict) -> bool:
    q = (qr.get("questionnaire") or "").lower()
    links = {str(it.get("linkId", "")).lstrip("/").lower() for it in _walk(qr.get("item"))}
    return "phq-9" in q or "phq9" in q or "44249-1" in q or bool(links & set(PHQ9_ITEMS))


def phq9_row(qr: dict, line: int, sessions: dict[str, str]) -> dict | None:
    """One raw_assessments row, or None when the response is not a completed PHQ-9."""
    if qr.get("status") not in ("completed", "amended") or not is_phq9(qr):
        return None
    items: dict[int, int] = {}
    total = None
    for it in _walk(qr.get("item")):
        link = str(it.get("linkId", ""))
        value = _answer(it)
        if link.lstrip("/").lower() in TOTAL_LINKS:
            total = value
        elif (pos := _position(link)) is not None and value is not None:
            items[pos] = value
    complete = len(items) == 9
    if total is None and complete:
        total = sum(items.values())
    encounter = _ref((qr.get("encounter") or {}).get("reference"))
    return {
        "_line": line, "assessment_id": qr.get("id"), "patient_id": _ref((qr.get("subject") or {}).get("reference")),
        "session_id": encounter if encounter in sessions else None, "assessed_at": qr.get("authored"),
        "instrument": "PHQ9", "total_score": None if total is None else str(total),
        "item_scores": ";".join(str(items[i]) for i in range(1, 10)) if complete else None,
        "minutes_after_dose": None,
    }


def skip_reason(qr: dict) -> str:
    """Why a response made no row, as counted in FhirReadResult.skipped."""
    if qr.get("status") not in ("completed", "amended"):
        return f"QuestionnaireResponse/{qr.get('status') or '?'}"
    return "QuestionnaireResponse/not a PHQ-9"


def rows(con, skipped: dict[str, int] | None = None) -> list[dict]:
    """The PHQ-9 rows; responses that make none are counted in `skipped` by reason."""
    sessions = dict(con.execute("SELECT session_id, session_start FROM fhir_sessions").fetchall())
    out = []
    for line, text in con.execute(
            "SELECT _line, j::VARCHAR FROM fhir_res WHERE rtype = 'QuestionnaireResponse' ORDER BY _line").fetchall():
        qr = json.loads(text)
        row = phq9_row(qr, line, sessions)
        if row is not None:
            out.append(row)
        elif skipped is not None:
            reason = skip_reason(qr)
            skipped[reason] = skipped.get(reason, 0) + 1
    return out
