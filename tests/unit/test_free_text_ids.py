"""Patient ids inside free text: replaced wherever they stand as a word (transforms/free_text.py),
and nothing else in the text changes."""
from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from transforms.free_text import REPLACEMENT, scrub
from transforms.pseudonymise import TEXT_SPLIT, TEXT_STRIP, text_tokens

IDS = ["KOR-000771", "P12", "abc_9"]
WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyzKOR0123456789-_.", min_size=1, max_size=8)
SEP = st.sampled_from([" ", ", ", "; ", " (", ") ", ": ", "/", " = ", "\t", "'"])
PUNCT = st.sampled_from(["", ".", "-", "#", "!"])


def sentence(draw, ids: bool):
    words = draw(st.lists(WORD.filter(lambda w: w.strip(TEXT_STRIP) not in IDS and w not in IDS), max_size=6))
    if ids:
        at = draw(st.integers(0, len(words)))
        words.insert(at, draw(PUNCT) + draw(st.sampled_from(IDS)) + draw(PUNCT))
    seps = [draw(SEP) for _ in range(max(len(words) - 1, 0))]
    return "".join(w + s for w, s in zip(words, seps + [""]))


@given(st.data())
def test_an_id_standing_as_a_word_is_replaced_and_nothing_else_changes(data):
    text = sentence(data.draw, ids=True)
    out = scrub(text, set(IDS))
    assert not any(re.search(rf"(^|{TEXT_SPLIT[1:-1]}|[{re.escape(TEXT_STRIP)}])" + re.escape(i)
                             + rf"($|{TEXT_SPLIT[1:-1]}|[{re.escape(TEXT_STRIP)}])", out) for i in IDS), (text, out)
    assert REPLACEMENT in out
    # what is not an id is kept: removing the replacements from both leaves the same words
    kept = [w for w in re.split(TEXT_SPLIT, text)[0::2] if w.strip(TEXT_STRIP) not in IDS and w not in IDS]
    marked = out.replace(REPLACEMENT, "\x00")  # its brackets would split like the text's own
    assert [w for w in re.split(TEXT_SPLIT, marked)[0::2] if "\x00" not in w] == kept


@given(st.data())
def test_text_without_an_id_is_unchanged(data):
    text = sentence(data.draw, ids=False)
    assert scrub(text, set(IDS)) == text


@given(st.data())
def test_every_id_in_a_text_is_among_its_tokens(data):
    """pseudonymise keys text_tokens(); an id it missed could never be found."""
    text = sentence(data.draw, ids=True)
    assert set(IDS) & text_tokens(text)


def test_examples():
    assert scrub("KOR-000771 fell at home", {"KOR-000771"}) == "[redacted] fell at home"
    assert scrub("seen with (KOR-000771).", {"KOR-000771"}) == "seen with ([redacted])."
    assert scrub("KOR-000771", {"KOR-000771"}) == "[redacted]"
    assert scrub("id 7 7", {"7 7"}) == "id 7 7"  # only the whole value or a word
    assert scrub("7 7", {"7 7"}) == "[redacted]"
    assert scrub("KOR-0007710 nausea", {"KOR-000771"}) == "KOR-0007710 nausea"  # another word
