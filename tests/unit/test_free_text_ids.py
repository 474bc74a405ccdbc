"""Patient ids inside free text: found however the text writes them around and between their
words, in upper or lower case, and replaced there; nothing else in the text changes, and short
words and numbers (which cannot be told from ids) are never candidates (transforms/free_text.py)."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from transforms.free_text import REPLACEMENT, candidates, eligible, scrub, variants

IDS = ["KOR-000771", "abc_99", "PX 1001", "kor/77/b"]
FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789 ,.;:()-/'’#", max_size=12)


def found_by_key(text: str, ids: list[str]) -> set[str]:
    """What the pipeline finds: the stretches one of whose writings is an id (its key matches)."""
    return {s for s in candidates(text) if variants(s) & set(ids)}


def wrap(draw, core: str) -> tuple[str, str]:
    """core inside filler, separated from it by something that is not a letter or digit."""
    left, right = draw(FILLER), draw(FILLER)
    left = left + draw(st.sampled_from([" ", "(", ", ", "’", "#", "/", "@", "~"])) if left else left
    right = draw(st.sampled_from([" ", ")", ".", "’s", "+", ";"])) + right if right else right
    return left, right


@given(st.data())
def test_an_id_however_written_and_wherever_it_stands_is_replaced(data):
    pid = data.draw(st.sampled_from(IDS))
    written = data.draw(st.sampled_from([pid, pid.upper(), pid.lower()]))
    left, right = wrap(data.draw, written)
    text = left + written + right
    out = scrub(text, found_by_key(text, IDS))
    assert not re.search(rf"(?<![^\W_]){re.escape(written)}(?![^\W_])", out), (text, out)
    assert REPLACEMENT in out and out.replace(REPLACEMENT, written) == text  # and nothing else changed


@given(FILLER)
def test_text_holding_no_id_is_unchanged(text):
    assert scrub(text, found_by_key(text, IDS)) == text


@given(st.integers(0, 99999), FILLER)
def test_short_numbers_and_words_are_never_candidates(n, text):
    """A registry numbering its patients 1, 2, 3 ... 99999 must not see '12 hours' redacted."""
    assert str(n) not in candidates(f"{n} hours of nausea {text}") or len(str(n)) >= 6
    assert not eligible(str(n)) and not eligible("abc")


def test_examples():
    assert scrub("KOR-000771 fell at home", {"KOR-000771"}) == "[redacted] fell at home"
    assert scrub("seen with (kor-000771).", {"kor-000771"}) == "seen with ([redacted])."
    assert scrub("pt@KOR-000771 fell, KOR-000771’s fall", {"KOR-000771"}) == "pt@[redacted] fell, [redacted]’s fall"
    assert scrub("KOR-0007710 nausea", {"KOR-000771"}) == "KOR-0007710 nausea"  # another, longer word
    assert "PX 1001" in candidates("U/L PX 1001") and "12" not in candidates("12 hours")
    assert re.fullmatch(r"\[redacted\] hours", scrub("PX 1001 hours", found_by_key("PX 1001 hours", IDS)))
