"""The REDCap adapter on REDCapR's real test exports (shared/data/real/redcap-exports)."""
from __future__ import annotations

import pytest
from adapter_helpers import copy_redcap, read_export, rows

from transforms import adapters
from transforms.bundle import BundleError

BP_MAPPING = """
[[source]]
table = "patients"
form = "intake"
[source.columns]
patient_id = "{record}"
enrolled_on = { value = "2024-01-01" }

[[source]]
table = "vitals"
form = "blood_pressure"
[source.columns]
session_id = "{record}-{instance}"
timepoint = { value = "other" }
sbp = "sbp"
dbp = "dbp"
"""

LONGITUDINAL = """
[redcap]
accept_status = [1, 2]

[[source]]
table = "patients"
form = "demographics"
[source.columns]
patient_id = "{record}"
enrolled_on = "date_enrolled"
birth_date = "dob"
sex = { field = "sex", map = { "0" = "F", "1" = "M" } }
site_id = "{arm}"

[[source]]
table = "labs"
form = "visit_lab_data"
[source.columns]
lab_id = "{record}-{event}"
patient_id = "{record}"
collected_on = { value = "2015-05-01" }
test = { value = "ALT" }
value = "vld1"
"""


def test_detects_redcap_folders_only(real):
    assert adapters.detect(real / "redcap-exports" / "vignette-repeating") == "redcap"
    assert adapters.detect(real / "redcap-exports" / "longitudinal") == "redcap"
    assert adapters.detect(real / "fhir-bulk-ndjson") == "fhir"


def test_vignette_blood_pressure_instrument_into_vitals(real, ws, tmp_path):
    (tmp_path / "m.toml").write_text(BP_MAPPING)
    src = real / "redcap-exports" / "vignette-repeating"
    bundle, res = read_export(ws, "redcap", src, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    assert res["vitals"].rows == 6 and res["patients"].rows == 2
    got = rows(ws, "vitals", "_line, sbp, dbp, timepoint")
    assert [(r[0], r[1], r[2]) for r in got] == [(3, "1.1", "11.1"), (4, "1.2", "11.2"), (5, "1.3", "11.3"),
                                                 (11, "2.1", "22.1"), (12, "2.2", "22.2"), (13, "2.3", "22.3")]
    # session ids are built from the record's keyed hash, never the raw record id
    ids = [r[0] for r in rows(ws, "vitals", "session_id")]
    assert len(set(i.rsplit("-", 1)[0] for i in ids)) == 2 and not any(i.startswith(("1-", "2-")) for i in ids)
    # the dictionary's range (sbp 1-300) passes; only mapped columns exist
    assert res["vitals"].out_of_range == {}
    # an unused column of the file is reported once, not under every table read from the file
    assert [t for t, r in res.items() if "image_profile" in r.dropped_columns] == [next(iter(res))]
    # a mapped form's status field is read (Completion), so it is not listed as dropped; another
    # form's is
    dropped = {c for r in res.values() for c in r.dropped_columns}
    assert "blood_pressure_complete" not in dropped and "intake_complete" not in dropped
    assert "image_complete" in dropped


def test_repeating_instruments_incomplete_forms_counted(real, ws, tmp_path):
    d = copy_redcap(real / "redcap-exports" / "vignette-repeating", tmp_path / "e")
    text = (d / "data.csv").read_text().replace("1,blood_pressure,2,,,,,1.2,11.2,2", "1,blood_pressure,2,,,,,1.2,11.2,0")
    (d / "data.csv").write_text(text)
    (tmp_path / "m.toml").write_text(BP_MAPPING)
    _, res = read_export(ws, "redcap", d, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    assert res["vitals"].rows == 5 and res["vitals"].incomplete_forms == 1


def test_out_of_range_value_fails_its_type_rule(real, ws, tmp_path):
    d = copy_redcap(real / "redcap-exports" / "vignette-repeating", tmp_path / "e")
    (d / "data.csv").write_text((d / "data.csv").read_text().replace(",1.3,11.3,2", ",301,11.3,2"))
    (tmp_path / "m.toml").write_text(BP_MAPPING)
    _, res = read_export(ws, "redcap", d, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    assert res["vitals"].out_of_range == {"sbp": 1}
    bad = rows(ws, "vitals", "sbp", "sbp LIKE '301%'")[0][0]
    assert "outside REDCap range 1..300" in bad
    assert ws.execute("SELECT as_int(?)", [bad]).fetchone()[0] is None  # so staging marks it unparsed


def test_longitudinal_events_record_id_is_study_id(real, ws, tmp_path):
    (tmp_path / "m.toml").write_text(LONGITUDINAL)
    src = real / "redcap-exports" / "longitudinal"
    _, res = read_export(ws, "redcap", src, mapping=str(tmp_path / "m.toml"), registry_id="longitudinal")
    pats = rows(ws, "patients", "patient_id, birth_date, birth_year, enrolled_on, site_id")
    assert [p[0] for p in pats] == ["100", "220", "304", "405", "638"][: len(pats)] and len(pats) >= 3
    assert all(p[1] is None and len(p[2]) == 4 for p in pats)  # date of birth reduced to the year
    assert {p[4] for p in pats} <= {"1", "2"} and "2" in {p[4] for p in pats}
    labs = rows(ws, "labs", "lab_id, value")
    assert labs and all("_arm_" in lab[0] for lab in labs)
    # names, telephone and e-mail are nowhere in any raw table
    for t in ("patients", "labs"):
        dump = str(rows(ws, t))
        for ident in ("Zharko", "Lenox", "555-1212", "zlehnox@gmail.com", "1983-09-23"):
            assert ident not in dump
    assert {"first_name", "email", "telephone_1"} <= set(res["patients"].identifier_columns)


def test_identifier_field_cannot_be_mapped_elsewhere(real, ws, tmp_path):
    bad = LONGITUDINAL.replace('site_id = "{arm}"', 'site_id = "email"')
    (tmp_path / "m.toml").write_text(bad)
    with pytest.raises(BundleError, match="identifier"):
        read_export(ws, "redcap", real / "redcap-exports" / "longitudinal", mapping=str(tmp_path / "m.toml"),
                    registry_id="longitudinal")


def _checkbox_mapping(term_map: str, more: str = "") -> str:
    """A mapping of checkboxes-1's form_2 to adverse_events: term from check_two through term_map."""
    return f"""
[redcap]
accept_status = [0, 1, 2]
[[source]]
table = "adverse_events"
form = "form_2"
[source.columns]
ae_id = "{{record}}-{{instance}}"
patient_id = "{{record}}"
onset_date = {{ value = "2024-01-01" }}
term = {{ checkbox = "check_two", map = {term_map} }}
{more.strip()}
"""


def test_checkboxes_letter_and_numeric_codes(real, ws, tmp_path):
    (tmp_path / "m.toml").write_text(_checkbox_mapping('{ a = "nausea", c = "dizziness" }', """
death = { field = "check_one", checked = "1" }
hospitalization = { field = "check_one", checked = "4" }
"""))
    _, res = read_export(ws, "redcap", real / "redcap-exports" / "checkboxes-1", mapping=str(tmp_path / "m.toml"),
                         registry_id="checkboxes")
    got = rows(ws, "adverse_events", "patient_id, term, death, hospitalization")
    assert got[0] == ("1", "nausea;dizziness", "1", "0")
    assert got[1] == ("2", "b;d", "0", "0")
    assert got[2] == ("3", None, "1", "1")


def test_negative_checkbox_code_column_name():
    from transforms.adapters.redcap_dictionary import checkbox_column

    assert checkbox_column("field", "-2") == "field____2"
    assert checkbox_column("race", "A") == "race___a"


# The survey project's prescreening form as MOAA/S scores: its survey timestamp is the assessment time.
SURVEY_MAPPING = """
[redcap]
accept_status = [0, 1, 2]
[[source]]
table = "assessments"
form = "prescreening_survey"
[source.columns]
assessment_id = "{record}-pre"
patient_id = "{record}"
assessed_at = "{timestamp}"
instrument = { value = "MOAAS" }
total_score = "has_diabetes"
"""

def test_survey_timestamps_and_not_completed(real, ws, tmp_path):
    (tmp_path / "m.toml").write_text(SURVEY_MAPPING)
    _, res = read_export(ws, "redcap", real / "redcap-exports" / "survey", mapping=str(tmp_path / "m.toml"),
                         registry_id="survey")
    got = rows(ws, "assessments", "assessed_at, total_score")
    assert got == [("2018-03-06 15:52:43", "1"), ("2018-03-06 15:53:15", "0")]
    from transforms.adapters.redcap_values import typed

    assert typed("[not completed]", None, "YMD") == ("", False)


def test_ui_dates_in_declared_order_become_iso():
    from transforms.adapters.redcap_dictionary import Field
    from transforms.adapters.redcap_values import typed

    mdy = Field("d", "f", "text", "date_mdy", "", "", False)
    assert typed("04/02/2015", mdy, "YMD") == ("2015-04-02", False)
    dmy = Field("d", "f", "text", "datetime_dmy", "", "", False)
    assert typed("04-02-2015 09:30", dmy, "YMD") == ("2015-02-04 09:30:00", False)
    ymd = Field("d", "f", "text", "date_ymd", "2000-01-01", "", False)
    assert typed("1999-12-31", ymd, "YMD")[1] is True
    assert typed("31/12/2015", Field("d", "f", "text", "date_ymd", "", "", False), "YMD")[0] == "31/12/2015"


def test_api_metadata_layout_reads_like_the_designer_one(real):
    from transforms.adapters.redcap_dictionary import read_dictionary

    api = read_dictionary(real / "redcap-exports" / "simple" / "metadata.csv")
    ui = read_dictionary(real / "redcap-exports" / "simple" / "dictionary.csv")
    assert api.record_id == ui.record_id == "record_id"
    assert list(api.fields) == list(ui.fields)
    assert api.fields["name_first"].identifier and api.fields["dob"].kind == "date"


def test_export_identity_from_export_json_and_content(real, tmp_path):
    (tmp_path / "m.toml").write_text(BP_MAPPING)
    a = adapters.get("redcap")
    src = real / "redcap-exports" / "vignette-repeating"
    b1 = a.open(src, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    b2 = a.open(src, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    assert b1.export_id == b2.export_id and b1.manifest_sha256 == b2.manifest_sha256
    d = copy_redcap(src, tmp_path / "e", BP_MAPPING, {"registry_id": "north", "export_id": "pull-1",
                                                      "exported_at": "2026-02-01T00:00:00Z"})
    b3 = a.open(d)
    assert (b3.registry_id, b3.export_id, b3.exported_at.isoformat()) == ("north", "pull-1", "2026-02-01T00:00:00+00:00")
    with pytest.raises(BundleError, match="registry_id"):
        a.open(src, mapping=str(tmp_path / "m.toml"))


DICT_HEADER = ("Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\"Choices, Calculations, OR "
               "Slider Labels\",Field Note,Text Validation Type OR Show Slider Number,Text Validation Min,"
               "Text Validation Max,Identifier?,Branching Logic (Show field only if...),Required Field?,"
               "Custom Alignment,Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation\n")


def test_form_repeating_in_one_event_only_keeps_its_other_events(ws, tmp_path):
    # In a longitudinal project an instrument can repeat in one event and not in another: its data
    # in the other event sit on untagged rows, and must load too, not vanish.
    d = tmp_path / "e"
    d.mkdir()
    (d / "dictionary.csv").write_text(DICT_HEADER + "record_id,enrolment,,text,Record,,,,,,,,,,,,,\n"
                                      "vit_sbp,vitals,,text,SBP,,,integer,,,,,,,,,,\n"
                                      "vit_dbp,vitals,,text,DBP,,,integer,,,,,,,,,,\n")
    (d / "data.csv").write_text(
        "record_id,redcap_event_name,redcap_repeat_instrument,redcap_repeat_instance,enrolment_complete,"
        "vit_sbp,vit_dbp,vitals_complete\n"
        "1,baseline_arm_1,,,2,120,80,2\n"
        "1,treatment_arm_1,vitals,1,,130,85,2\n"
        "1,treatment_arm_1,vitals,2,,125,82,2\n")
    (d / "mapping.toml").write_text("""
[[source]]
table = "vitals"
form = "vitals"
[source.columns]
session_id = "{record}-{event}-{instance}"
timepoint = { value = "other" }
sbp = "vit_sbp"
dbp = "vit_dbp"
""")
    _, res = read_export(ws, "redcap", d, registry_id="events")
    assert [r[0] for r in rows(ws, "vitals", "sbp")] == ["120", "130", "125"]


def test_checkbox_map_and_output_use_the_dictionary_codes(real, ws, tmp_path):
    # REDCap lower-cases a checkbox code and replaces '-' in its column name (code A is check_two___a,
    # code -2 would be ___2); the mapping's map and the value written are the dictionary's codes.
    d = copy_redcap(real / "redcap-exports" / "checkboxes-1", tmp_path / "e")
    text = (d / "dictionary.csv").read_text()
    (d / "dictionary.csv").write_text(text.replace('"a, A|b, B|c, C|d, D|e, E"', '"A, A|B, B|C, C|-2, D|e, E"'))
    (d / "data.csv").write_text((d / "data.csv").read_text().replace("check_two___d", "check_two____2"))
    (tmp_path / "m.toml").write_text(_checkbox_mapping('{ A = "nausea", C = "dizziness" }'))
    read_export(ws, "redcap", d, mapping=str(tmp_path / "m.toml"), registry_id="checkboxes")
    got = [r[0] for r in rows(ws, "adverse_events", "term")]
    assert got[:2] == ["nausea;dizziness", "B;-2"]


@pytest.mark.parametrize("validation", ["email", "phone", "ssn", "zipcode", "mrn_generic"])
def test_field_validated_as_an_identifier_is_one_without_the_flag(ws, tmp_path, validation):
    # Many projects never tick Identifier?; a field REDCap validates as an e-mail, phone, SSN, ZIP or
    # MRN holds one whatever its name, and may not feed a warehouse column.
    d = tmp_path / "e"
    d.mkdir()
    (d / "dictionary.csv").write_text(DICT_HEADER + "record_id,enrolment,,text,Record,,,,,,,,,,,,,\n"
                                      "enrol_date,enrolment,,text,Enrolled,,,date_ymd,,,,,,,,,,\n"
                                      f"contact,enrolment,,text,Contact,,,{validation},,,,,,,,,,\n")
    (d / "data.csv").write_text("record_id,enrol_date,contact,enrolment_complete\n1,2026-01-01,x,2\n")
    mapping = """
[[source]]
table = "patients"
form = "enrolment"
[source.columns]
patient_id = "{record}"
enrolled_on = "enrol_date"
"""
    (d / "mapping.toml").write_text(mapping + 'site_id = "contact"\n')
    with pytest.raises(BundleError, match="identifier"):
        read_export(ws, "redcap", d, registry_id="v")
    (d / "mapping.toml").write_text(mapping)
    _, res = read_export(ws, "redcap", d, registry_id="v")
    assert res["patients"].identifier_columns == ["contact"]


def test_comma_decimal_numbers_become_dot_decimals():
    # REDCap stores a number_*comma_decimal field as typed (72,5) and exports it so unless asked
    # otherwise; the canonical columns read dot decimals, so 72,5 kg failed weight_kg's type rule.
    from transforms.adapters.redcap_dictionary import Field
    from transforms.adapters.redcap_values import typed

    f = Field("w", "f", "text", "number_1dp_comma_decimal", "30", "300", False)
    assert typed("72,5", f, "YMD") == ("72.5", False)
    assert typed("301,0", f, "YMD")[1] is True  # the range still applies
    assert typed("72,5", Field("w", "f", "text", "number", "", "", False), "YMD") == ("72,5", False)
    assert typed("72,5", Field("w", "f", "text", "number_comma_decimal", "", "", False), "YMD") == ("72.5", False)


def test_truncated_export_is_rejected_not_loaded_short(real, ws, tmp_path):
    # A download cut off mid-record leaves a last row with too few fields: it loaded with its missing
    # cells empty, and, the export being full, every record after the cut was withdrawn.
    d = copy_redcap(real / "redcap-exports" / "vignette-repeating", tmp_path / "e")
    text = (d / "data.csv").read_text()
    (d / "data.csv").write_text(text[: text.index("2,blood_pressure,2,") + len("2,blood_pressure,2,,")])
    (tmp_path / "m.toml").write_text(BP_MAPPING)
    with pytest.raises(BundleError, match="line 12") as e:
        read_export(ws, "redcap", d, mapping=str(tmp_path / "m.toml"), registry_id="vignette")
    assert e.value.file == "data.csv" and e.value.rule == "bundle.malformed"


def test_where_on_a_column_the_file_lacks_is_a_mapping_error(real, ws, tmp_path):
    # A misspelt where column matched no row: the source silently produced nothing, export after export.
    from test_privacy_e2e import SYNTHEA_MAPPING

    d = tmp_path / "synthea"
    d.mkdir()
    for name in ("patients.csv", "observations.csv"):
        (d / name).write_bytes((real / "synthea-csv" / name).read_bytes())
    (d / "mapping.toml").write_text(SYNTHEA_MAPPING.replace('where = { code = "70274-6" }', 'where = { cod = "70274-6" }'))
    with pytest.raises(BundleError, match="cod"):
        read_export(ws, "redcap", d, registry_id="synthea")


def test_line_numbers_follow_the_kor_readers_rule(ws, tmp_path):
    """_line is the record's number as the kor reader counts the same bytes (transforms/read.py):
    header = 1, a blank line is no record and is not counted, a quoted newline does not start a
    line, a line of spaces is a record (one of empty fields here: nothing to load, but counted)."""
    folder = tmp_path / "rc"
    folder.mkdir()
    (folder / "data.csv").write_bytes(
        b"record_id,note\r\n"
        b"1,first\r\n"
        b"\r\n"  # blank line: not counted
        b'2,"line one\nline two"\r\n'  # one record over two physical lines
        b" , \r\n"  # a record of blank fields: counted, not loaded
        b"3,third\r\n")
    (folder / "mapping.toml").write_text("""
[[source]]
table = "patients"
[source.columns]
patient_id = "record_id"
enrolled_on = { value = "2024-01-01" }
""")
    read_export(ws, "redcap", folder, registry_id="lines")
    assert rows(ws, "patients", "_line, patient_id") == [(2, "1"), (3, "2"), (5, "3")]


def test_dropped_columns_leave_out_the_columns_the_mapping_reads(real, ws, tmp_path):
    """A checkbox field's option columns and the `<form>_timestamp` behind {timestamp} are read, so
    they are not listed as dropped; redcap_survey_identifier (an e-mail or a name) is dropped and
    counted as an identifier column."""
    (tmp_path / "cb.toml").write_text(_checkbox_mapping('{ a = "nausea" }',
                                                        'death = { field = "check_one", checked = "1" }'))
    _, res = read_export(ws, "redcap", real / "redcap-exports" / "checkboxes-1", mapping=str(tmp_path / "cb.toml"),
                         registry_id="checkboxes")
    dropped = res["adverse_events"].dropped_columns
    assert not [c for c in dropped if c.startswith("check_two___")]
    assert "check_one___1" not in dropped and "check_one___2" in dropped  # only option 1 is read
    (tmp_path / "s.toml").write_text(SURVEY_MAPPING)
    _, res = read_export(ws, "redcap", real / "redcap-exports" / "survey", mapping=str(tmp_path / "s.toml"),
                         registry_id="survey")
    r = res["assessments"]
    assert "prescreening_survey_timestamp" not in r.dropped_columns
    assert "participant_info_survey_timestamp" in r.dropped_columns  # a form the mapping does not use
    assert "redcap_survey_identifier" in r.dropped_columns
    assert "redcap_survey_identifier" in r.identifier_columns


def test_an_unmapped_column_named_like_a_person_is_told_by_position(real, ws, tmp_path):
    """As the kor reader (transforms/read.py): a header with a space or a dot may be a person's
    name typed into it (privacy review, session 16); it is listed by position, not by its text."""
    d = copy_redcap(real / "redcap-exports" / "checkboxes-1", tmp_path / "e")
    lines = (d / "data.csv").read_text().splitlines(keepends=True)
    lines[0] = lines[0].rstrip("\r\n") + ",Ivy Quillfeather,ivy.doe\n"
    lines[1:] = [ln.rstrip("\r\n") + ",x,y\n" if ln.strip() else ln for ln in lines[1:]]
    (d / "data.csv").write_text("".join(lines))
    (tmp_path / "cb.toml").write_text(_checkbox_mapping('{ a = "nausea" }'))
    _, res = read_export(ws, "redcap", d, mapping=str(tmp_path / "cb.toml"), registry_id="checkboxes")
    dropped = res["adverse_events"].dropped_columns
    assert dropped[-2:] == ["column 14 (its name is not shown)", "column 15 (its name is not shown)"]
    assert "desired_result" in dropped and not [c for c in dropped if "ivy" in c]
