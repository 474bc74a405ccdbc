"""kor export -> a FHIR R4 Bulk Data export of the same cohort: one NDJSON file per resource type
and a completion manifest whose transactionTime is the export's exported_at, plus export.json
with the registry id (Bulk Data has no place for it).

Sessions become an Encounter (class from the setting, period end = start + monitoring minutes)
and a MedicationAdministration (SNOMED route, dose in mg, infusion as effectivePeriod); vitals a
BP panel, heart-rate and SpO2 Observations at start + minutes_after_dose; assessments score
Observations (LOINC for PHQ-9 and GAD-7, the local system for the rest, items as components);
adverse events AdverseEvent; labs LOINC Observations. What R4 has no element for travels in the
local extensions the adapter reads (docs/adapters.md).
"""
from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

from synth.formats.kor_source import birth_year, int_or_text, read_kor, try_ts
from transforms.adapters.fhir_codes import EXT, GAD7_ITEMS, LABS, LOCAL_SYSTEM, PHQ9_ITEMS

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ROUTES = {"intranasal": "46713006", "iv": "47625008", "im": "78421000", "oral": "26643006", "sublingual": "37839007",
          "subcutaneous": "34206005"}
CLASS = {"clinic": "AMB", "inpatient": "IMP", "emergency": "EMER", "home": "HH"}
GENDER = {"F": "female", "M": "male", "X": "other", "U": "unknown"}
OUTCOME = {"recovered": "resolved", "recovering": "recovering", "not_recovered": "ongoing",
           "recovered_with_sequelae": "resolvedWithSequelae", "fatal": "fatal", "unknown": "unknown"}
LAB_CODES = {v: k for k, v in LABS.items()}
CRITERIA = ["death", "life_threatening", "hospitalization", "disability", "congenital_anomaly", "medically_important"]


def _iso(dt) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _num(v: str | None):
    """A number; a value that is not one (a bad row's) passes as text, so the pipeline quarantines it."""
    if v is None:
        return None
    try:
        f = float(v)
    except ValueError:
        return v
    return int(f) if f.is_integer() else f


def _when(text: str | None, minutes=None) -> str | None:
    """An ISO instant, `minutes` later; a value that is not a datetime (a bad row's) as it is."""
    t = try_ts(text)
    if t is None:
        return text
    if isinstance(minutes, int):
        t += timedelta(minutes=minutes)
    return _iso(t)


def _coding(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


def _patient(p: dict) -> list[dict]:
    res = {"resourceType": "Patient", "id": p["patient_id"], "extension": []}
    if p.get("enrolled_on"):
        res["extension"].append({"url": EXT + "enrolled-on", "valueDate": p["enrolled_on"]})
    if p.get("trd_failed_trials"):
        res["extension"].append({"url": EXT + "trd-failed-trials", "valueInteger": int_or_text(p["trd_failed_trials"])})
    if p.get("sex"):
        res["gender"] = GENDER.get(p["sex"], "unknown")
    if birth_year(p):
        res["birthDate"] = birth_year(p)
    if p.get("zip"):
        res["address"] = [{"postalCode": p["zip"]}]
    if p.get("site_id"):
        res["managingOrganization"] = {"reference": f"Organization/{p['site_id']}"}
    out = [res]
    if p.get("diagnosis_icd10"):
        out.append({"resourceType": "Condition", "id": f"dx-{p['patient_id']}",
                    "subject": {"reference": f"Patient/{p['patient_id']}"},
                    "code": _coding("http://hl7.org/fhir/sid/icd-10-cm", p["diagnosis_icd10"])})
    return out


def _session(s: dict) -> list[dict]:
    sid, pid = s["session_id"], s["patient_id"]
    start = _when(s["session_start"])
    known = try_ts(s["session_start"]) is not None
    enc = {"resourceType": "Encounter", "id": sid, "status": "finished", "subject": {"reference": f"Patient/{pid}"},
           "period": {"start": start}}
    if s.get("setting") in CLASS:
        enc["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": CLASS[s["setting"]]}
    elif s.get("setting"):  # a bad row's unknown setting: a code the adapter does not know
        enc["class"] = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": s["setting"]}
    if s.get("monitoring_minutes") and known:
        enc["period"]["end"] = _when(s["session_start"], int_or_text(s["monitoring_minutes"]))
    period = {"start": start}
    if s.get("infusion_minutes") and known:
        period["end"] = _when(s["session_start"], int_or_text(s["infusion_minutes"]))
    ma = {"resourceType": "MedicationAdministration", "id": f"ma-{sid}", "status": "completed",
          "medicationCodeableConcept": {"text": s["drug"]}, "subject": {"reference": f"Patient/{pid}"},
          "context": {"reference": f"Encounter/{sid}"}, "effectivePeriod": period,
          "dosage": {"route": _coding(SNOMED, ROUTES.get(s["route"], s["route"]))}}
    if s.get("dose_mg"):
        ma["dosage"]["dose"] = {"value": _num(s["dose_mg"]), "unit": "mg", "code": "mg"}
    elif s.get("dose_mg_per_kg"):
        ma["dosage"]["dose"] = {"value": _num(s["dose_mg_per_kg"]), "unit": "mg/kg", "code": "mg/kg"}
    ma["extension"] = []
    if s.get("devices"):
        ma["extension"].append({"url": EXT + "devices", "valueInteger": int_or_text(s["devices"])})
    if s.get("dose_mg") and s.get("dose_mg_per_kg"):  # R4 dosage holds one dose: the weight-based one rides along
        ma["extension"].append({"url": EXT + "dose-mg-per-kg", "valueDecimal": _num(s["dose_mg_per_kg"])})
    out = [enc, ma]
    if s.get("weight_kg"):
        out.append({"resourceType": "Observation", "id": f"wt-{sid}", "status": "final",
                    "code": _coding(LOINC, "29463-7"), "subject": {"reference": f"Patient/{pid}"},
                    "encounter": {"reference": f"Encounter/{sid}"}, "effectiveDateTime": start,
                    "valueQuantity": {"value": _num(s["weight_kg"]), "unit": "kg", "code": "kg"}})
    return out


def _vitals(v: dict, n: int, sessions: dict) -> list[dict]:
    s = sessions.get(v["session_id"])
    if s is None:
        return []
    when = _when(s["session_start"], int_or_text(v.get("minutes_after_dose") or "0"))
    base = {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{s['patient_id']}"},
            "encounter": {"reference": f"Encounter/{s['session_id']}"}, "effectiveDateTime": when,
            "extension": [{"url": EXT + "timepoint", "valueCode": v["timepoint"]}]}
    out = []
    if v.get("sbp") or v.get("dbp"):
        comps = [{"code": _coding(LOINC, code), "valueQuantity": {"value": _num(v[k]), "unit": "mmHg"}}
                 for code, k in (("8480-6", "sbp"), ("8462-4", "dbp")) if v.get(k)]
        out.append({**base, "id": f"bp-{n}", "code": _coding(LOINC, "85354-9"), "component": comps})
    for code, k, unit in (("8867-4", "heart_rate", "/min"), ("59408-5", "spo2", "%")):
        if v.get(k):
            out.append({**base, "id": f"{k}-{n}", "code": _coding(LOINC, code),
                        "valueQuantity": {"value": _num(v[k]), "unit": unit}})
    return out


def _assessment(a: dict) -> dict:
    instrument = a["instrument"].upper()
    system, code = {"PHQ9": (LOINC, "44261-6"), "GAD7": (LOINC, "70274-6")}.get(instrument, (LOCAL_SYSTEM, instrument))
    obs = {"resourceType": "Observation", "id": a["assessment_id"], "status": "final",
           "category": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "survey")],
           "code": _coding(system, code), "subject": {"reference": f"Patient/{a['patient_id']}"},
           "effectiveDateTime": _when(a["assessed_at"]), "valueInteger": int_or_text(a["total_score"])}
    if a.get("session_id"):
        obs["encounter"] = {"reference": f"Encounter/{a['session_id']}"}
    if a.get("item_scores"):
        items = [x.strip() for x in a["item_scores"].split(";")]
        codes = {"PHQ9": PHQ9_ITEMS, "GAD7": GAD7_ITEMS}.get(instrument) or [f"{instrument}.{i}" for i in range(1, len(items) + 1)]
        isys = LOINC if instrument in ("PHQ9", "GAD7") else LOCAL_SYSTEM
        obs["component"] = [{"code": _coding(isys, c), "valueInteger": int_or_text(x)} for c, x in zip(codes, items)]
    return obs


def _adverse_event(e: dict) -> dict:
    ae = {"resourceType": "AdverseEvent", "id": e["ae_id"], "actuality": "actual",
          "subject": {"reference": f"Patient/{e['patient_id']}"}, "date": e["onset_date"],
          "event": {"text": e["term"]}, "extension": []}
    if e.get("meddra_pt") or e.get("meddra_code"):
        ae["event"]["coding"] = [{"system": "http://terminology.hl7.org/CodeSystem/mdr",
                                  "code": e.get("meddra_code") or "", "display": e.get("meddra_pt")}]
    if e.get("session_id"):
        ae["encounter"] = {"reference": f"Encounter/{e['session_id']}"}
    if e.get("severity"):
        ae["severity"] = _coding("http://terminology.hl7.org/CodeSystem/adverse-event-severity", e["severity"])
    if e.get("serious") in ("0", "1"):
        ae["seriousness"] = _coding("http://terminology.hl7.org/CodeSystem/adverse-event-seriousness",
                                    "Serious" if e["serious"] == "1" else "Non-serious")
    if e.get("outcome"):
        ae["outcome"] = _coding("http://terminology.hl7.org/CodeSystem/adverse-event-outcome",
                                OUTCOME.get(e["outcome"], e["outcome"]))
    if e.get("related"):
        ae["suspectEntity"] = [{"instance": {"display": "ketamine"},
                                "causality": [{"assessment": {"coding": [{"code": e["related"]}]}}]}]
    if e.get("resolved_date"):
        ae["extension"].append({"url": EXT + "resolved-date", "valueDate": e["resolved_date"]})
    ae["extension"] += [{"url": EXT + "sae-criterion", "valueCode": c} for c in CRITERIA if e.get(c) == "1"]
    return ae


def _lab(lab: dict) -> dict:
    obs = {"resourceType": "Observation", "id": lab["lab_id"], "status": "final",
           "category": [_coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory")],
           "code": _coding(LOINC, LAB_CODES.get(lab["test"], lab["test"])),
           "subject": {"reference": f"Patient/{lab['patient_id']}"}, "effectiveDateTime": lab["collected_on"]}
    if lab.get("value") is not None:
        obs["valueQuantity"] = {"value": _num(lab["value"]), "unit": lab.get("unit")}
    if lab.get("uln"):
        obs["referenceRange"] = [{"high": {"value": _num(lab["uln"]), "unit": lab.get("unit")}}]
    return obs


def convert(kor_folder: Path, out: Path, carried: dict | None = None) -> Path:
    """`carried`, when given, receives the rows per canonical table that the FHIR export holds (a
    vitals row of an unknown session, an assessment without id or total, a lab FHIR has no code for
    are left out), so `synth` prints what will load."""
    manifest, t = read_kor(kor_folder)
    out.mkdir(parents=True, exist_ok=True)
    sessions = {s["session_id"]: s for s in t["sessions"]}
    resources: list[dict] = []
    for p in t["patients"]:
        resources += _patient(p)
    for s in t["sessions"]:
        resources += _session(s)
    vitals = [_vitals(v, n, sessions) for n, v in enumerate(t["vitals"], 1)]
    resources += [r for rs in vitals for r in rs]
    assessments = [_assessment(a) for a in t["assessments"] if a.get("assessment_id") and a.get("total_score")]
    labs = [_lab(lab) for lab in t["labs"] if lab.get("test") in LAB_CODES]
    resources += assessments + [_adverse_event(e) for e in t["adverse_events"]] + labs
    if carried is not None:
        carried.update({table: len(rows) for table, rows in t.items()})
        carried.update(vitals=sum(1 for rs in vitals if rs), assessments=len(assessments), labs=len(labs))
    by_type: dict[str, list[str]] = {}
    for r in resources:
        by_type.setdefault(r["resourceType"], []).append(json.dumps(r, separators=(",", ":")))
    output = []
    for rtype, lines in by_type.items():
        name = f"{rtype}.000.ndjson"
        (out / name).write_text("\n".join(lines) + "\n")
        output.append({"type": rtype, "url": name, "count": len(lines)})
    (out / "manifest.json").write_text(json.dumps({
        "transactionTime": manifest["exported_at"], "request": "synth", "requiresAccessToken": False,
        "output": output, "error": []}, indent=2))
    (out / "export.json").write_text(json.dumps({"registry_id": manifest["registry_id"],
                                                 "export_id": manifest["export_id"], "mode": manifest.get("mode")}))
    return out


if __name__ == "__main__":  # python -m synth.formats.fhir KOR_FOLDER OUT_FOLDER
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
