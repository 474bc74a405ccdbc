"""Codes the FHIR adapter understands, as data: instruments, their items in scoring order, labs.

LOINC codes are from clinical-reference.md section 1 (PHQ-9 44261-6 and items, GAD-7 70274-6).
MADRS, QIDS-SR16, HAM-D17, CADSS and MOAA/S have no LOINC codes, so they travel in a local code
system, LOCAL_SYSTEM (documented in docs/adapters.md): the total's code is the instrument's
canonical name (MADRS, CADSS, ...) and item n of it is "<NAME>.<n>". GAD-7 item codes, in order,
are the LOINC panel 69737-5's items as HL7's Personal Health Record IG GAD-7 example and an
LHC-Forms rendering of the LOINC panel both list them (not in clinical-reference.md, which has the
total 70274-6 only).
"""
from __future__ import annotations

LOCAL_SYSTEM = "urn:ketamine-outcomes:instrument"
EXT = "urn:ketamine-outcomes:ext:"  # local extensions: enrolled-on, trd-failed-trials, timepoint, ...

PHQ9_ITEMS = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
GAD7_ITEMS = ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]
LOCAL_ITEMS = {"MADRS": 10, "QIDS_SR16": 16, "HAMD17": 17, "CADSS": 23}

INSTRUMENTS = {"44261-6": "PHQ9", "70274-6": "GAD7", **{n: n for n in ("MADRS", "QIDS_SR16", "HAMD17", "CADSS", "MOAAS", "CSSRS_IDEATION")}}
# C-SSRS: LOINC 93293-9 "Most severe suicidal ideation 1 month" is the ideation level itself, answered
# from LOINC's list LL5434-7 "C-SSRS Ideation Types" (LA30370-3 wish to be dead = 1 ... LA30374-5
# active ideation with specific plan and intent = 5; the SQL macro fhir_answer reads them). Not in
# clinical-reference.md (its C-SSRS codes are the screener items and the risk level 93374-7): taken
# from LOINC's own pages, so UNVERIFIED there (docs/adapters.md). The lifetime term 93294-7 is not a
# current level and is not read; neither are the screener items, whose code-to-item order is unchecked.
INSTRUMENTS["93293-9"] = "CSSRS_IDEATION"

# Not in clinical-reference.md: the common LOINC serum/plasma codes of these tests, unverified here
# (docs/adapters.md says so); a registry coding them otherwise gets no labs, not wrong ones.
LABS = {"1742-6": "ALT", "1920-8": "AST", "6768-6": "ALP", "2324-2": "GGT", "1975-2": "BILIRUBIN",
        "2160-0": "CREATININE"}

# QuestionnaireResponse linkIds for PHQ-9 items: the LOINC item codes (with or without a leading
# '/', as US Core uses) or the names some published Questionnaires use.
PHQ9_LINK_NAMES = ["littleinterest", "feelingdown", "troublesleeping", "feelingtired", "badappetite",
                   "feelingbadaboutself", "troubleconcentrating", "movingspeaking", "selfharm"]
TOTAL_LINKS = {"44261-6", "totalscore", "total"}
GAD7_TOTAL_LINKS = {"70274-6", "totalscore", "total"}
# LOINC's GAD-7 panel answers item 2 (68509-9) from a list whose 2 is LA18938-3 "More days than not"
# where the other items have LA6570-1 "More than half the days" (same LHC-Forms rendering). Read in
# both paths: QuestionnaireResponse items and Observation items (fhir_item_answers); the SQL macro
# fhir_answer_code lists these codes among those it looks for in a concept's codings.
GAD7_EXTRA_ANSWERS = {2: {"LA18938-3": 2}}


def item_rows() -> list[tuple[str, str, int, int]]:
    """(instrument, item code, position, number of items)."""
    rows = [("PHQ9", c, i + 1, 9) for i, c in enumerate(PHQ9_ITEMS)]
    rows += [("GAD7", c, i + 1, 7) for i, c in enumerate(GAD7_ITEMS)]
    for name, n in LOCAL_ITEMS.items():
        rows += [(name, f"{name}.{i}", i, n) for i in range(1, n + 1)]
    return rows


def install(con) -> None:
    """Small lookup tables the SQL joins to."""
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_instruments (code VARCHAR, instrument VARCHAR)")
    con.executemany("INSERT INTO fhir_instruments VALUES (?, ?)", list(INSTRUMENTS.items()))
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_items (instrument VARCHAR, code VARCHAR, position INTEGER, "
                "n_items INTEGER)")
    con.executemany("INSERT INTO fhir_items VALUES (?, ?, ?, ?)", item_rows())
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_item_answers (instrument VARCHAR, position INTEGER, code VARCHAR, "
                "value VARCHAR)")
    con.executemany("INSERT INTO fhir_item_answers VALUES (?, ?, ?, ?)",
                    [("GAD7", pos, code, str(v)) for pos, codes in GAD7_EXTRA_ANSWERS.items() for code, v in codes.items()])
    con.execute("CREATE OR REPLACE TEMP TABLE fhir_lab_codes (code VARCHAR, test VARCHAR)")
    con.executemany("INSERT INTO fhir_lab_codes VALUES (?, ?)", list(LABS.items()))
