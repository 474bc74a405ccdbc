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

A malformed response never fails the export: an answer that is no whole number (valueInteger "1.5",
valueDecimal 1.5) is kept as text, as is a subject, id or authored that is not what R4 says, so that
the row fails its rule (assessments.item_scores.format, total_score's type, the patient's existence;
item_scores then lists every position, unanswered ones empty, even when items are missing)
and is quarantined with its record number; elements of the wrong JSON type (an item that is no
object, a questionnaire that is no string) are read as absent. Anything else that cannot be read
rejects the export naming the file and line (rule fhir.questionnaire).
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


def _text(x) -> str | None:
    """A value as the row's text: a string as it is, anything else (a number, a list) as its JSON."""
    if x is None or isinstance(x, str):
        return x
    return json.dumps(x, separators=(",", ":"))


def _obj(x) -> dict:
    return x if isinstance(x, dict) else {}


def _list(x) -> list:
    return x if isinstance(x, list) else []


def _ref(x) -> str | None:
    if not x:
        return None
    if not isinstance(x, str):
        return _text(x)
    x = re.sub(r"/_history/[^/]*$", "", x)  # a versioned reference names the same resource
    return x.replace("#", "/").replace(":", "/").rstrip("/").rsplit("/", 1)[-1] or None


def _items(items) -> list[dict]:
    """The items of an `item` array; what is not an object is no item."""
    return [it for it in _list(items) if isinstance(it, dict)]


def _walk(items):
    for it in _items(items):
        yield it
        yield from _walk(it.get("item"))
        for a in _items(it.get("answer")):
            yield from _walk(a.get("item"))


def _inner(it: dict):
    """The items an item (or the response) encloses, at any depth."""
    yield from _walk(it.get("item"))
    for a in _items(it.get("answer")):
        yield from _walk(a.get("item"))


def _walk_scoped(items, scopes: tuple):
    """(item, its enclosing items nearest first, ending with the response)."""
    for it in _items(items):
        yield it, scopes
        inner = (it, *scopes)
        yield from _walk_scoped(it.get("item"), inner)
        for a in _items(it.get("answer")):
            yield from _walk_scoped(a.get("item"), inner)


def _key(link) -> str:
    return str(link or "").strip().lstrip("/").lower()


def _whole(v) -> int | str:
    """A valueInteger or valueDecimal as a score: a whole number, else the value as text (kept, so that
    the row fails its rule rather than losing the item or the export)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return _text(v)


def _answer(item, answers: dict[str, int] = ANSWERS) -> int | str | None:
    """The item's score: an int, or the text of a value that is no whole number; None when unanswered
    (or answered with a code the answer list does not hold)."""
    for a in _list(item.get("answer")):
        if not isinstance(a, dict):
            return _text(a)
        if "valueInteger" in a:
            return _whole(a["valueInteger"])
        if "valueDecimal" in a:
            return _whole(a["valueDecimal"])
        code = _obj(a.get("valueCoding")).get("code")
        if isinstance(code, str) and code in answers:
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
    q = qr.get("questionnaire")
    q = q.lower() if isinstance(q, str) else ""
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


def _score(qr: dict, form: Form, forms: list[Form]) -> tuple[dict[int, int | str], int | str | None]:
    """(item position -> value, total) of one instrument of the response. A total linkId another
    instrument of the response shares counts only where its group is this instrument's. A value
    that is no whole number is its text; the total is then not summed."""
    shared = form.totals & set().union(*(f.totals for f in forms if f is not form))
    items: dict[int, int | str] = {}
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
    if total is None and len(items) == len(form.items) and all(isinstance(v, int) for v in items.values()):
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
    encounter = _ref(_obj(qr.get("encounter")).get("reference"))
    subject = qr.get("subject")
    patient = _ref(subject.get("reference")) if isinstance(subject, dict) else _text(subject)
    rid = _text(qr.get("id"))
    out = []
    for k, form in enumerate(forms):
        items, total = _score(qr, form, forms)
        malformed = any(not isinstance(v, int) for v in items.values())
        if len(forms) > 1 and total is None and not malformed:  # a malformed part is quarantined instead
            if skipped is not None:
                reason = f"QuestionnaireResponse/{LABELS[form.instrument]} part of a combined response not complete"
                skipped[reason] = skipped.get(reason, 0) + 1
            continue
        n = len(form.items)
        out.append({
            "_line": line + (k + 1) * line_offset,
            "assessment_id": rid if k == 0 or rid is None else f"{str(rid).strip()}{SEP}{form.instrument}",
            "patient_id": patient,
            "session_id": encounter if encounter in sessions else None, "assessed_at": _text(qr.get("authored")),
            "instrument": form.instrument, "total_score": None if total is None else str(total),
            # all items, or (a malformed one kept) every position, unanswered ones empty: the row fails
            # item_scores.format whether or not the response gives its total
            "item_scores": ";".join(str(items.get(i, "")) for i in range(1, n + 1)) if len(items) == n or malformed
            else None,
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
        return f"QuestionnaireResponse/{_text(qr.get('status')) or '?'}"
    return "QuestionnaireResponse/not a PHQ-9 or GAD-7"


def rows(con, skipped: dict[str, int] | None = None, line_offset: int = 0, export: str = "?",
         line_stride: int | None = None) -> list[dict]:
    """The PHQ-9 and GAD-7 rows (line_offset: see assessment_rows); responses that make none, and
    parts of combined responses that make none, are counted in `skipped` by reason. A response that
    still cannot be read raises BundleError naming its file and line (_line modulo line_stride)."""
    from transforms.bundle import BundleError

    sessions = dict(con.execute("SELECT session_id, session_start FROM fhir_sessions").fetchall())
    out = []
    for line, file, text in con.execute(
            "SELECT _line, file, j::VARCHAR FROM fhir_res WHERE rtype = 'QuestionnaireResponse' ORDER BY _line").fetchall():
        try:
            qr = json.loads(text)
            if qr.get("status") in ("completed", "amended") and forms_of(qr):
                out.extend(assessment_rows(qr, line, sessions, line_offset, skipped))
            elif skipped is not None:
                reason = skip_reason(qr)
                skipped[reason] = skipped.get(reason, 0) + 1
        except (TypeError, ValueError, AttributeError, KeyError, RecursionError) as e:
            n = line % line_stride if line_stride else line
            raise BundleError("fhir.questionnaire", f"QuestionnaireResponse on line {n} cannot be read "
                              f"({type(e).__name__})", export, file) from None
    return out
