"""The same cohort as kor, REDCap and FHIR, through the real ingest flow into three warehouses:
the core tables must hold the same facts (ids differ by design: REDCap names sessions by record
and instance, so facts are compared by patient, time and values)."""
from __future__ import annotations

import duckdb
import pytest
from exports import write_export

from synth.formats import fhir as to_fhir
from synth.formats import redcap as to_redcap

pytestmark = pytest.mark.e2e

FACTS = {
    "patients": "SELECT patient_key, birth_year, sex, zip3, enrolled_on, site_id, trd_failed_trials, diagnosis_icd10 "
                "FROM core.patients",
    "sessions": "SELECT patient_key, session_start, drug, route, dose_mg, dose_mg_per_kg, weight_kg, infusion_minutes, "
                "devices, setting, monitoring_minutes FROM core.sessions",
    "vitals": "SELECT s.patient_key, s.session_start, v.timepoint, v.minutes_after_dose, v.sbp, v.dbp, v.heart_rate, "
              "v.spo2 FROM core.vitals v JOIN core.sessions s USING (session_id)",
    "assessments": "SELECT a.patient_key, a.instrument, a.assessed_at, a.total_score, a.item_scores, "
                   "s.session_start, a.minutes_after_dose FROM core.assessments a "
                   "LEFT JOIN core.sessions s USING (session_id)",
    "adverse_events": "SELECT e.patient_key, s.session_start, e.onset_date, e.term, e.meddra_pt, e.severity, e.serious, "
                      "e.related, e.outcome, e.resolved_date FROM core.adverse_events e "
                      "LEFT JOIN core.sessions s USING (session_id)",
    "labs": "SELECT patient_key, collected_on, test, value, unit, uln FROM core.labs",
}


def facts(warehouse) -> dict[str, list]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {t: sorted(con.execute(q).fetchall(), key=str) for t, q in FACTS.items()}
    finally:
        con.close()


def test_kor_redcap_fhir_load_the_same_facts(prefect_harness, tmp_path):
    from flows.ingest import ingest_export

    kor = write_export(tmp_path / "kor", registry="three-formats")
    red = to_redcap.convert(kor, tmp_path / "redcap")
    fh = to_fhir.convert(kor, tmp_path / "fhir")
    out = {}
    for name, folder in (("kor", kor), ("redcap", red), ("fhir", fh)):
        r = ingest_export(str(folder), warehouse=str(tmp_path / f"{name}.duckdb"))
        assert r["status"] == "loaded", (name, r)
        out[name] = facts(tmp_path / f"{name}.duckdb")
    for table in FACTS:
        assert out["kor"][table], table
        assert out["redcap"][table] == out["kor"][table], table
        assert out["fhir"][table] == out["kor"][table], table


@pytest.mark.parametrize("fmt", ["redcap", "fhir"])
def test_synth_prints_the_rows_the_converted_export_holds(prefect_harness, tmp_path, fmt):
    """`synth --format redcap` printed the native export's counts: REDCap has no form for some
    instruments, so the assessments it promised were more than any ingest could load."""
    import json

    from click.testing import CliRunner

    from flows.ingest import ingest_export
    from synth.command import synth_command

    r = CliRunner().invoke(synth_command, ["--registry", "north", "--patients", "12", "--months", "1", "--seed", "5",
                                           "--format", fmt, "--out", str(tmp_path / "out"), "--json"])
    assert r.exit_code == 0, r.output
    (export,) = json.loads(r.output)
    options = {"registry_id": "north", "mapping": str(tmp_path / "out" / export["export_id"] / "mapping.toml")} \
        if fmt == "redcap" else {"registry_id": "north"}
    res = ingest_export(export["path"], adapter=fmt, options=options, warehouse=str(tmp_path / "w.duckdb"))
    assert res["status"] == "loaded", res
    for table, rows in export["rows"].items():
        read = res["tables"][table]
        assert rows == read["loaded"] + read["quarantined"], (table, rows, read)
