"""PHQ-9 and GAD-7 QuestionnaireResponses -> assessment rows, in Python: their item trees are
irregular (nested groups, linkIds that are LOINC codes or names) and they are few next to Observations.

Both use LOINC's 0-3 answer list, so one reader serves both (FORMS). Items are matched by linkId
(LOINC item code, or a known name), answers read from valueCoding (LOINC LA answer codes) or
valueInteger. The total is the response's own total item when it has one, else the sum when all
items are there; item_scores are given only when all are, so a Questionnaire that lacks PHQ-9's
item 9 still yields its total and no half-filled item list.

A response may hold both instruments (one "PHQ-9 and GAD-7" form, items for both, often each in its
group): it then makes one row per instrument whose total is known (given, or summed from all its
items); an instrument part without one is counted, not loaded. Ids: the response's first instrument
(PHQ-9, else GAD-7) keeps the response id, as a one-instrument response always has; each further one
is "<response id>#<INSTRUMENT>" ('#' is no FHIR id character, so no other response has that id). The
instruments a response holds are read from its canonical and its LOINC item linkIds, answered or
not, so the same response gives the same ids in every export. A total linkId both instruments use
("total", "totalScore") is, in a combined response, the instrument's whose items its nearest
enclosing group holds; one beside items of both is neither's (each is then summed from its items).
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


# PHQ-9 first: a response that has PHQ-9 items keeps its PHQ-9 row under the response id, as it always
# had; a GAD-7 beside it is "<id>#GAD7". Append new instruments at the end: an id never moves.
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


def _inner(it: dict):
    """The items an item (or the response) encloses, at any depth."""
    yield from _walk(it.get("item"))
    for a in it.get("answer") or []:
        yield from _walk(a.get("item"))


def _walk_scoped(items, scopes: tuple):
    """(item, its enclosing items nearest first, ending with the response)."""
    for it in items or []:
        yield it, scopes
        inner = (it, *scopes)
        yield from _walk_scoped(it.get("item"), inner)
        for a in it.get("answer") or []:
            yield from _walk_scoped(a.get("item"), inner)


def _key(link) -> str:
    return str(link or "").strip().lstrip("/").lower()


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


def _position(form: Form, key: str) -> int | None:
    if key in form.items:
        return form.items.index(key) + 1
    if key in form.names:
        return form.names.index(key) + 1
    return None


def forms_of(qr: dict) -> list[Form]:
    """The instruments a response holds, in FORMS order: those its questionnaire canonical names or
    whose LOINC item linkIds it has (answered or not); empty if none."""
    q = (qr.get("questionnaire") or "").lower()
    links = {_key(it.get("linkId")) for it in _walk(qr.get("item"))}
    return [f for f in FORMS if any(m in q for m in f.markers) or links & set(f.items)]


def _owner(scopes: tuple, forms: list[Form]) -> Form | None:
    """The instrument whose items the nearest enclosing item holding any instrument's items holds
    alone; None when it holds items of several (or none does)."""
    for scope in scopes:
        keys = {_key(it.get("linkId")) for it in _inner(scope)}
        held = [f for f in forms if keys & (set(f.items) | set(f.names))]
        if held:
            return held[0] if len(held) == 1 else None
    return None


def _score(qr: dict, form: Form, forms: list[Form]) -> tuple[dict[int, int], int | None]:
    """(item position -> value, total) of one instrument of the response. A total linkId another
    instrument of the response shares counts only where its group is this instrument's."""
    shared = form.totals & set().union(*(f.totals for f in forms if f is not form))
    items: dict[int, int] = {}
    total = None
    for it, scopes in _walk_scoped(qr.get("item"), (qr,)):
        key = _key(it.get("linkId"))
        if key in form.totals:
            if key not in shared or _owner(scopes, forms) is form:
                total = _answer(it)
        elif (pos := _position(form, key)) is not None:
            value = _answer(it, ANSWERS | form.extra_answers.get(pos, {}))
            if value is not None:
                items[pos] = value
    if total is None and len(items) == len(form.items):
        total = sum(items.values())
    return items, total


LABELS = {"PHQ9": "PHQ-9", "GAD7": "GAD-7"}
SEP = "#"  # "<response id>#GAD7": no FHIR id has '#', so no response's own id is ever one of these


def assessment_rows(qr: dict, line: int, sessions: dict[str, str], line_offset: int = 0,
                    skipped: dict[str, int] | None = None) -> list[dict]:
    """The response's raw_assessments rows: none when it is not a completed PHQ-9 or GAD-7. The k-th
    instrument it holds (from 0) is on _line line + (k + 1) * line_offset, so that rows of one
    response never share a _line. In a combined response an instrument without a total makes no row
    and is counted in `skipped`."""
    if qr.get("status") not in ("completed", "amended") or not (forms := forms_of(qr)):
        return []
    encounter = _ref((qr.get("encounter") or {}).get("reference"))
    rid = qr.get("id")
    out = []
    for k, form in enumerate(forms):
        items, total = _score(qr, form, forms)
        if len(forms) > 1 and total is None:
            if skipped is not None:
                reason = f"QuestionnaireResponse/{LABELS[form.instrument]} part of a combined response not complete"
                skipped[reason] = skipped.get(reason, 0) + 1
            continue
        n = len(form.items)
        out.append({
            "_line": line + (k + 1) * line_offset,
            "assessment_id": rid if k == 0 or rid is None else f"{str(rid).strip()}{SEP}{form.instrument}",
            "patient_id": _ref((qr.get("subject") or {}).get("reference")),
            "session_id": encounter if encounter in sessions else None, "assessed_at": qr.get("authored"),
            "instrument": form.instrument, "total_score": None if total is None else str(total),
            "item_scores": ";".join(str(items[i]) for i in range(1, n + 1)) if len(items) == n else None,
            "minutes_after_dose": None,
        })
    return out


def companions() -> list[tuple[str, int]]:
    """(id suffix, k) of the records a response makes beyond its first: its k-th instrument (from 0)
    is "<response id><suffix>" on _line line + (k + 1) * offset. A deleted response withdraws these too."""
    return [(f"{SEP}{f.instrument}", k) for k, f in enumerate(FORMS) if k > 0]


def skip_reason(qr: dict) -> str:
    """Why a response made no row, as counted in FhirReadResult.skipped."""
    if qr.get("status") not in ("completed", "amended"):
        return f"QuestionnaireResponse/{qr.get('status') or '?'}"
    return "QuestionnaireResponse/not a PHQ-9 or GAD-7"


def rows(con, skipped: dict[str, int] | None = None, line_offset: int = 0) -> list[dict]:
    """The PHQ-9 and GAD-7 rows (line_offset: see assessment_rows); responses that make none, and
    parts of combined responses that make none, are counted in `skipped` by reason."""
    sessions = dict(con.execute("SELECT session_id, session_start FROM fhir_sessions").fetchall())
    out = []
    for line, text in con.execute(
            "SELECT _line, j::VARCHAR FROM fhir_res WHERE rtype = 'QuestionnaireResponse' ORDER BY _line").fetchall():
        qr = json.loads(text)
        if qr.get("status") in ("completed", "amended") and forms_of(qr):
            out.extend(assessment_rows(qr, line, sessions, line_offset, skipped))
        elif skipped is not None:
            reason = skip_reason(qr)
            skipped[reason] = skipped.get(reason, 0) + 1
    return out
