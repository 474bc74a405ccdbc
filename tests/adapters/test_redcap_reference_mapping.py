"""The reference REDCap project (reference/redcap) through the REDCap adapter and the rules."""
from __future__ import annotations

import copy
import os

from exports import BASE, write_export

from expectations.validate import validate_and_split
from synth.formats import redcap as to_redcap
from transforms import adapters
from transforms.pseudonymise import build_key_map
from warehouse.connect import attach, detach, ensure_warehouse


def validate_redcap(ws, tmp_path, tables: dict) -> None:
    """The kor tables as the reference project exports them (its dictionary and mapping), read by
    the REDCap adapter and validated as the flow does."""
    folder = to_redcap.convert(write_export(tmp_path / "kor", tables), tmp_path / "redcap")
    a = adapters.get("redcap")
    bundle = a.open(folder)
    reads = a.read(ws, bundle)
    build_key_map(ws, os.environ["OUTCOMES_PSEUDONYM_KEY"].encode(), bundle.registry_id, list(reads))
    attach(ws, ensure_warehouse(tmp_path / "wh.duckdb"), read_only=True)
    try:
        validate_and_split(ws, bundle.registry_id, bundle.exported_at, bundle.mode, reads)
    finally:
        detach(ws)


def test_other_diagnosis_reaches_the_non_mdd_warning(ws, tmp_path):
    """The dictionary's diagnosis choice OTHER was mapped to "", so a non-MDD patient loaded with no
    diagnosis and patients.diagnosis_icd10.mdd could not fire. It keeps the dictionary's code:
    flagged not MDD (and not an ICD-10 code, so stored empty: no ICD-10 code means "other")."""
    tables = copy.deepcopy(BASE)
    tables["patients"][1]["diagnosis_icd10"] = "OTHER"  # MRN-1002; MRN-1001 is F33.2
    validate_redcap(ws, tmp_path, tables)
    got = ws.execute("SELECT o.diagnosis_icd10, coalesce(list_sort(list(v.rule) FILTER (WHERE v.rule IS NOT NULL)), []) "
                     "FROM out_patients o LEFT JOIN viol_patients v USING (_line) GROUP BY ALL "
                     "ORDER BY 1 NULLS LAST").fetchall()
    assert got == [("F33.2", []), (None, ["patients.diagnosis_icd10.format", "patients.diagnosis_icd10.mdd"])]
    assert ws.execute("SELECT count(*) FROM q_rows WHERE table_name = 'patients'").fetchone()[0] == 0


def test_synthetic_peri_dose_score_whose_session_is_not_in_the_export_is_left_out(tmp_path):
    """synth's REDCap conversion names a CADSS's session by its instance in the same export; one whose
    session came earlier had a blank session number, which the contract's peri-dose rule quarantines.
    It is left out, as such vitals are."""
    import csv

    tables = {t: [] for t in BASE} | {"patients": copy.deepcopy(BASE["patients"]),
                                      "assessments": [dict(BASE["assessments"][1]), dict(BASE["assessments"][2])]}
    folder = to_redcap.convert(write_export(tmp_path / "kor", tables, mode="incremental"), tmp_path / "redcap")
    forms = [r["redcap_repeat_instrument"] for r in csv.DictReader(open(folder / "data.csv", newline=""))]
    assert "cadss" not in forms and "madrs" in forms


def test_zip_of_another_shape_is_flagged_and_stored_empty(ws, tmp_path):
    """The adapter keeps a ZIP's first 3 digits before anything is stored; of a 4-digit ZIP (its 0
    lost) they are no prefix ("213" for 02139). Such a ZIP breaks patients.zip.format (a warning)
    and is stored as NULL, as in a kor export."""
    tables = copy.deepcopy(BASE)
    tables["patients"][0]["zip"] = "2139"  # MRN-1001; MRN-1002 is 94110
    tables["patients"].append(dict(tables["patients"][1], patient_id="MRN-1003", zip="02139-4307"))
    validate_redcap(ws, tmp_path, tables)
    got = ws.execute("SELECT o.zip3, coalesce(list_sort(list(v.rule) FILTER (WHERE v.rule IS NOT NULL)), []) "
                     "FROM out_patients o LEFT JOIN viol_patients v USING (_line) GROUP BY ALL "
                     "ORDER BY 1 NULLS LAST").fetchall()
    assert got == [("021", []), ("941", []), (None, ["patients.zip.format"])]
    assert ws.execute("SELECT count(*) FROM q_rows WHERE table_name = 'patients'").fetchone()[0] == 0


def test_every_mdd_code_and_a_pre_dose_cadss_load_from_the_reference_project(ws, tmp_path):
    """The dictionary offered ten MDD codes: a patient in remission (F32.4/5, F33.4x), F32.8x or
    F33.8 could not be recorded, and the converter's code had no choice to go to. Its CADSS and
    MOAA/S minutes started at 0, so a pre-dose rating 5 minutes before the dose was out of range
    there, where the contract sets no lower bound for an assessment's minutes."""
    codes = ["F32.4", "F32.5", "F32.81", "F32.89", "F33.40", "F33.41", "F33.42", "F33.8"]
    tables = copy.deepcopy(BASE)
    tables["patients"] += [dict(tables["patients"][1], patient_id=f"MRN-20{i:02d}", diagnosis_icd10=c)
                           for i, c in enumerate(codes)]
    tables["assessments"].append(dict(tables["assessments"][1], assessment_id="A9", total_score="2",
                                      assessed_at="2025-01-10T08:55:00Z", minutes_after_dose="-5"))
    validate_redcap(ws, tmp_path, tables)
    got = ws.execute("SELECT o.diagnosis_icd10, coalesce(list(v.rule) FILTER (WHERE v.rule IS NOT NULL), []) "
                     "FROM out_patients o LEFT JOIN viol_patients v USING (_line) GROUP BY ALL ORDER BY 1").fetchall()
    assert got == [(c, []) for c in sorted(codes + ["F32.2", "F33.2"])]
    assert ws.execute("SELECT list(minutes_after_dose ORDER BY minutes_after_dose) FROM out_assessments "
                      "WHERE instrument = 'CADSS'").fetchone()[0] == [-5, 40]
    assert ws.execute("SELECT count(*) FROM q_rows").fetchone()[0] == 0
