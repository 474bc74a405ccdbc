"""PHQ-9 and GAD-7 QuestionnaireResponses -> assessment rows, in Python: their item trees are
irregular (nested groups, linkIds that are LOINC codes or names) and they are few next to Observations.

Both use LOINC's 0-3 answer list, so one reader serves both (FORMS). Items are matched by linkId
(LOINC item code, or a known name), answers read from valueCoding (LOINC LA answer codes) or
valueInteger. The total is the response's own total item when it has one, else the sum when all
items are there; item_scores are given only when all are, so a Questionnaire that lacks PHQ-9's
item 9 still yields its total and no half-filled item list.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from transforms.adapters.fhir_codes import (GAD7_EXTRA_ANSWERS, GAD7_ITEMS, GAD7_TOTAL_LINKS, PHQ9_ITEMS,
                                            PHQ9_LINK_NAMES, TOTAL_LINKS)

ANSWERS = {"LA6568-5": 0, "LA6569-3": 1, "LA6570-1": 2, "LA6571-9": 3}


@dataclass(frozen=True)
class Form:
    """An instrument read from QuestionnaireResponses."""
    instrument: str
    items: list[str]            # LOINC item codes, in scoring order
    names: list[str]            # linkIds some published Questionnaires use instead, same order
    totals: set[str]            # linkIds of the total item
    markers: tuple[str, ...]    # what names the instrument in the `questionnaire` canonical
    extra_answers: dict[int, dict[str, int]] = field(default_factory=dict)  # item position -> more codes


# PHQ-9 first: a response that has PHQ-9 items stays a PHQ-9 row, as it always was.
FORMS = (Form("PHQ9", PHQ9_ITEMS, PHQ9_LINK_NAMES, TOTAL_LINKS, ("phq-9", "phq9", "44249-1")),
         Form("GAD7", GAD7_ITEMS, [], GAD7_TOTAL_LINKS, ("gad-7", "gad7", "69737-5"), GAD7_EXTRA_ANSWERS))


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


def _answer(item, answers: dict[str, int] = ANSWERS) -> int | None:
    for a in item.get("answer") or []:
        if "valueInteger" in a:
            return int(a["valueInteger"])
        if "valueDecimal" in a and float(a["valueDecimal"]).is_integer():
            return int(a["valueDecimal"])
        code = (a.get("valueCoding") or {}).get("code")
        if code in answers:
            return answers[code]
    return None


def _position(form: Form, link: str) -> int | None:
    key = link.strip().lstrip("/").lower()
    if key in form.items:
        return form.items.index(key) + 1
    if key in form.names:
        return form.names.index(key) + 1
    return None


def form_of(qr: dict) -> Form | None:
    """The instrument a response is, by its questionnaire canonical or its item linkIds; None if neither."""
    q = (qr.get("questionnaire") or "").lower()
    links = {str(it.get("linkId", "")).lstrip("/").lower() for it in _walk(qr.get("item"))}
    return next((f for f in FORMS if any(m in q for m in f.markers) or links & set(f.items)), None)


def assessment_row(qr: dict, line: int, sessions: dict[str, str]) -> dict | None:
    """One raw_assessments row, or None when the response is not a completed PHQ-9 or GAD-7."""
    if qr.get("status") not in ("completed", "amended") or (form := form_of(qr)) is None:
        return None
    n = len(form.items)
    items: dict[int, int] = {}
    total = None
    for it in _walk(qr.get("item")):
        link = str(it.get("linkId", ""))
        if link.lstrip("/").lower() in form.totals:
            total = _answer(it)
        elif (pos := _position(form, link)) is not None:
            value = _answer(it, ANSWERS | form.extra_answers.get(pos, {}))
            if value is not None:
                items[pos] = value
    complete = len(items) == n
    if total is None and complete:
        total = sum(items.values())
    encounter = _ref((qr.get("encounter") or {}).get("reference"))
    return {
        "_line": line, "assessment_id": qr.get("id"), "patient_id": _ref((qr.get("subject") or {}).get("reference")),
        "session_id": encounter if encounter in sessions else None, "assessed_at": qr.get("authored"),
        "instrument": form.instrument, "total_score": None if total is None else str(total),
        "item_scores": ";".join(str(items[i]) for i in range(1, n + 1)) if complete else None,
        "minutes_after_dose": None,
    }


def skip_reason(qr: dict) -> str:
    """Why a response made no row, as counted in FhirReadResult.skipped."""
    if qr.get("status") not in ("completed", "amended"):
        return f"QuestionnaireResponse/{qr.get('status') or '?'}"
    return "QuestionnaireResponse/not a PHQ-9 or GAD-7"


def rows(con, skipped: dict[str, int] | None = None) -> list[dict]:
    """The PHQ-9 and GAD-7 rows; responses that make none are counted in `skipped` by reason."""
    sessions = dict(con.execute("SELECT session_id, session_start FROM fhir_sessions").fetchall())
    out = []
    for line, text in con.execute(
            "SELECT _line, j::VARCHAR FROM fhir_res WHERE rtype = 'QuestionnaireResponse' ORDER BY _line").fetchall():
        qr = json.loads(text)
        row = assessment_row(qr, line, sessions)
        if row is not None:
            out.append(row)
        elif skipped is not None:
            reason = skip_reason(qr)
            skipped[reason] = skipped.get(reason, 0) + 1
    return out
