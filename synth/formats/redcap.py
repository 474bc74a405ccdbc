"""kor export -> a REDCap export of the reference project (reference/redcap/): data.csv in the
flat raw layout (repeating instruments, DAG = site), the project's dictionary and mapping, and
export.json with the registry, export id and time. Instruments the reference project has no form
for (GAD-7, QIDS, HAM-D, C-SSRS) are left out, as a clinic on that project would not have them.
Vitals, CADSS and MOAA/S name their session by its instance number in this export: one whose
session came in an earlier export is left out (without a session a CADSS or MOAA/S is quarantined).
"""
from __future__ import annotations

import csv
import json
import shutil
import sys
from pathlib import Path

from synth.formats.kor_source import birth_year, read_kor, try_ts

REFERENCE = Path(__file__).resolve().parents[2] / "reference" / "redcap"
DICTIONARY = REFERENCE / "ketamine_registry_dictionary.csv"
MAPPING = REFERENCE / "ketamine_registry_mapping.toml"

SEX = {"F": "1", "M": "2", "X": "3", "U": "9"}
DRUG = {"esketamine": "1", "ketamine": "2", "arketamine": "3", "other": "9"}
ROUTE = {"intranasal": "1", "iv": "2", "im": "3", "oral": "4", "sublingual": "5", "subcutaneous": "6"}
SETTING = {"clinic": "1", "inpatient": "2", "emergency": "3", "home": "4"}
TIMEPOINT = {"pre": "1", "post40": "2", "discharge": "3", "other": "9"}
SEVERITY = {"mild": "1", "moderate": "2", "severe": "3"}
RELATED = {"unrelated": "1", "unlikely": "2", "possible": "3", "probable": "4", "definite": "5"}
OUTCOME = {"recovered": "1", "recovering": "2", "not_recovered": "3", "recovered_with_sequelae": "4", "fatal": "5",
           "unknown": "9"}
CRITERIA = ["death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"]
FORM_OF = {"PHQ9": "phq9", "MADRS": "madrs", "CADSS": "cadss", "MOAAS": "moaas"}
TABLE_OF_FORM = {"enrolment": "patients", "treatment_session": "sessions", **{f: "assessments" for f in FORM_OF.values()}}


def _dictionary() -> list[tuple[str, str, str, list[str]]]:
    """(field, form, type, checkbox codes) in dictionary order."""
    out = []
    with open(DICTIONARY, newline="") as fh:
        rows = list(csv.reader(fh))[1:]
    for r in rows:
        codes = [c.split(",", 1)[0].strip() for c in r[5].split("|")] if r[3] == "checkbox" else []
        out.append((r[0], r[1], r[3], codes))
    return out


def _header(fields) -> list[str]:
    cols = ["record_id", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group"]
    form = None
    for name, f, ftype, codes in fields:
        if name == "record_id":
            form = f
            continue
        if f != form and form is not None:
            cols.append(f"{form}_complete")
        form = f
        cols += [f"{name}___{c}" for c in codes] if ftype == "checkbox" else [name]
    cols.append(f"{form}_complete")
    return cols


def _dt(text: str | None) -> str | None:
    """REDCap's datetime layout; a value that is not a datetime (a bad row) passes as it is."""
    t = try_ts(text)
    return t.strftime("%Y-%m-%d %H:%M:%S") if t else text


def _code(codes: dict, value: str | None) -> str | None:
    """The REDCap code of a value; an unknown value (a bad row's) passes as it is, so that the
    pipeline sees it and quarantines the row."""
    return None if value is None else codes.get(value, value)


def _order(s: dict) -> tuple[str, str]:
    t = try_ts(s["session_start"])
    return s["patient_id"] or "", t.isoformat() if t else "~" + (s["session_start"] or "")


def convert(kor_folder: Path, out: Path, carried: dict | None = None) -> Path:
    """`carried`, when given, receives the rows per canonical table that the REDCap export holds (no
    form for some instruments: those assessments are left out), so `synth` prints what will load."""
    manifest, t = read_kor(kor_folder)
    out.mkdir(parents=True, exist_ok=True)
    header = _header(_dictionary())
    rows: list[dict] = []
    site = {p["patient_id"]: p.get("site_id") or "" for p in t["patients"]}

    def add(record, form, instance, values):
        row = {"record_id": record, "redcap_repeat_instrument": form if instance else "",
               "redcap_repeat_instance": str(instance) if instance else "",
               "redcap_data_access_group": site.get(record, ""), f"{form}_complete": "2"}
        row.update({k: v for k, v in values.items() if v is not None})
        rows.append(row)
        table = TABLE_OF_FORM.get(form, form)
        counts[table] = counts.get(table, 0) + 1

    counts: dict[str, int] = {}

    for p in t["patients"]:
        add(p["patient_id"], "enrolment", None, {
            "enrol_date": p.get("enrolled_on"), "birth_year": birth_year(p), "sex": _code(SEX, p.get("sex")),
            "zip": p.get("zip"), "trd_failed_trials": p.get("trd_failed_trials"),
            "diagnosis_icd10": (p.get("diagnosis_icd10") or "").replace(".", "_") or None})
    instance: dict[str, tuple[str, int]] = {}
    counters: dict[tuple[str, str], int] = {}

    def nxt(record, form):
        counters[(record, form)] = counters.get((record, form), 0) + 1
        return counters[(record, form)]

    for s in sorted(t["sessions"], key=_order):
        n = nxt(s["patient_id"], "treatment_session")
        instance[s["session_id"]] = (s["patient_id"], n)
        add(s["patient_id"], "treatment_session", n, {
            "sess_start": _dt(s["session_start"]), "sess_drug": _code(DRUG, s["drug"]), "sess_route": _code(ROUTE, s["route"]),
            "sess_dose_mg": s.get("dose_mg"), "sess_dose_mg_kg": s.get("dose_mg_per_kg"),
            "sess_weight_kg": s.get("weight_kg"), "sess_infusion_min": s.get("infusion_minutes"),
            "sess_devices": s.get("devices"), "sess_setting": _code(SETTING, s.get("setting")),
            "sess_monitoring_min": s.get("monitoring_minutes")})
    for v in t["vitals"]:
        if v["session_id"] not in instance:
            continue
        record, n = instance[v["session_id"]]
        add(record, "vitals", nxt(record, "vitals"), {
            "vit_session_no": str(n), "vit_timepoint": _code(TIMEPOINT, v["timepoint"]), "vit_minutes": v.get("minutes_after_dose"),
            "vit_sbp": v.get("sbp"), "vit_dbp": v.get("dbp"), "vit_hr": v.get("heart_rate"), "vit_spo2": v.get("spo2")})
    for a in t["assessments"]:
        form = FORM_OF.get((a.get("instrument") or "").upper())
        if form is None:
            continue
        if form in ("cadss", "moaas") and a.get("session_id") not in instance:
            continue  # as vitals: its session came in an earlier export, whose instance is not known here
        record = a["patient_id"]
        values = {f"{form}_date": _dt(a["assessed_at"])}
        items = (a.get("item_scores") or "").split(";") if a.get("item_scores") else []
        if form == "moaas":
            values["moaas_score"] = a["total_score"]
        else:
            values[f"{form}_total"] = a["total_score"]
            values.update({f"{form}_{i}": v.strip() for i, v in enumerate(items, 1)})
        if form in ("cadss", "moaas"):
            values[f"{form}_session_no"] = str(instance[a["session_id"]][1])
            values[f"{form}_minutes"] = a.get("minutes_after_dose")
        add(record, form, nxt(record, form), values)
    for e in t["adverse_events"]:
        record = e["patient_id"]
        values = {"ae_onset": e.get("onset_date"), "ae_term": e.get("term"), "ae_meddra_pt": e.get("meddra_pt"),
                  "ae_meddra_code": e.get("meddra_code"), "ae_severity": _code(SEVERITY, e.get("severity")),
                  "ae_serious": e.get("serious"), "ae_related": RELATED.get(e.get("related") or ""),
                  "ae_outcome": OUTCOME.get(e.get("outcome") or ""), "ae_resolved": e.get("resolved_date"),
                  "ae_session_no": str(instance[e["session_id"]][1]) if e.get("session_id") in instance else None}
        values.update({f"ae_criteria___{i}": ("1" if e.get(c) == "1" else "0") for i, c in enumerate(CRITERIA, 1)})
        add(record, "adverse_events", nxt(record, "adverse_events"), values)
    for lab in t["labs"]:
        record = lab["patient_id"]
        add(record, "labs", nxt(record, "labs"), {"lab_date": lab.get("collected_on"), "lab_test": lab.get("test"),
                                                  "lab_value": lab.get("value"), "lab_unit": lab.get("unit"),
                                                  "lab_uln": lab.get("uln")})
    with open(out / "data.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    if carried is not None:
        carried.update({table: counts.get(table, 0) for table in t})
    shutil.copy(DICTIONARY, out / "dictionary.csv")
    shutil.copy(MAPPING, out / "mapping.toml")
    (out / "export.json").write_text(json.dumps({
        "format": "redcap", "registry_id": manifest["registry_id"], "export_id": manifest["export_id"],
        "exported_at": manifest["exported_at"], "mode": manifest.get("mode", "full")}, indent=2))
    return out


if __name__ == "__main__":  # python -m synth.formats.redcap KOR_FOLDER OUT_FOLDER
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
