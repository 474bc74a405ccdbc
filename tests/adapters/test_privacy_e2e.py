"""Real exports carrying direct identifiers, through the real ingest flow: nothing identifying may
be anywhere in the warehouse afterwards (core, history, quarantine, ops tables alike)."""
from __future__ import annotations

import csv
import json
import shutil

import duckdb
import pytest

pytestmark = pytest.mark.e2e

SYNTHEA_MAPPING = """
# Synthea's CSV export through the REDCap adapter's mapping (no dictionary: plain CSV sources).
# PHQ-2 (55758-7) has no canonical instrument and is not mapped.
[[source]]
table = "patients"
file = "patients.csv"
[source.columns]
patient_id = "id"
birth_date = "birthdate"
sex = "gender"
zip = "zip"
enrolled_on = { value = "2020-01-01" }

[[source]]
table = "assessments"
file = "observations.csv"
where = { code = "44261-6" }
[source.columns]
assessment_id = "phq9-{line}"
patient_id = "patient"
assessed_at = "date"
instrument = { value = "PHQ9" }
total_score = { field = "value", as = "integer" }

[[source]]
table = "assessments"
file = "observations.csv"
where = { code = "70274-6" }
[source.columns]
assessment_id = "gad7-{patient}-{date}"  # the patient column in an id: keyed, never raw
patient_id = "patient"
assessed_at = "date"
instrument = { value = "GAD7" }
total_score = { field = "value", as = "integer" }
"""


def warehouse_cells(path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cells: set[str] = set()
        tables = con.execute("SELECT table_schema, table_name FROM information_schema.tables "
                             "WHERE table_type = 'BASE TABLE'").fetchall()
        for schema, table in tables:
            for row in con.execute(f'SELECT * FROM "{schema}"."{table}"').fetchall():
                cells.update(str(v) for v in row if v is not None)
        return cells
    finally:
        con.close()


def assert_absent(cells: set[str], exact: set[str], substrings: set[str]) -> None:
    blob = "\n".join(cells)
    assert not (cells & exact), sorted(cells & exact)[:5]
    found = [s for s in substrings if s and s in blob]
    assert not found, found[:5]


def test_fhir_bulk_patients_load_without_identifiers(prefect_harness, real, tmp_path):
    from flows.ingest import ingest_export

    r = ingest_export(str(real / "fhir-bulk-ndjson"), warehouse=str(tmp_path / "w.duckdb"),
                      options={"registry_id": "bulk-sample"})
    assert r["status"] == "loaded", r
    assert r["tables"]["patients"]["loaded"] == 13
    exact, subs = set(), set()
    for line in (real / "fhir-bulk-ndjson" / "Patient.000.ndjson").read_text().splitlines():
        p = json.loads(line)
        exact |= {p["id"], p["birthDate"]}
        for n in p.get("name", []):
            subs |= {n.get("family", "")} | set(n.get("given", []))
        for a in p.get("address", []):
            subs |= set(a.get("line", []))
            exact |= {a.get("postalCode", "")} - {""}
        subs |= {t["value"] for t in p.get("telecom", [])}
        subs |= {i["value"] for i in p.get("identifier", [])}
    cells = warehouse_cells(tmp_path / "w.duckdb")
    assert_absent(cells, exact, {s for s in subs if len(s) >= 4})


def test_synthea_csv_through_a_mapping_keeps_no_identifiers(prefect_harness, real, tmp_path):
    from flows.ingest import ingest_export

    src = real / "synthea-csv"
    export = tmp_path / "synthea"
    export.mkdir()
    for name in ("patients.csv", "observations.csv"):
        shutil.copy(src / name, export / name)
    (export / "mapping.toml").write_text(SYNTHEA_MAPPING)
    (export / "export.json").write_text(json.dumps({"registry_id": "synthea", "export_id": "synthea-1",
                                                    "exported_at": "2025-01-01T00:00:00Z"}))
    r = ingest_export(str(export), warehouse=str(tmp_path / "w.duckdb"), adapter="redcap")
    assert r["status"] == "loaded", r
    assert r["tables"]["patients"]["read"] == 27, r
    # one Synthea child was born after the mapping's constant enrolment date: quarantined, not leaked
    assert r["rules_broken"] == {"patients.enrolled_on.after_birth": 1}
    assert r["tables"]["assessments"]["loaded"] == r["tables"]["assessments"]["read"] > 0
    exact, subs = set(), set()
    with open(src / "patients.csv", newline="") as fh:
        for p in csv.DictReader(fh):
            exact |= {p["Id"], p["BIRTHDATE"], p["ZIP"], p["LAT"], p["LON"]} - {""}
            subs |= {p[k] for k in ("Id", "SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "MAIDEN", "ADDRESS")} - {""}
    cells = warehouse_cells(tmp_path / "w.duckdb")
    assert_absent(cells, exact, subs)
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM core.assessments WHERE instrument = 'GAD7'").fetchone()[0] > 0
        assert con.execute("SELECT max(length(zip3)) FROM core.patients").fetchone()[0] == 3
    finally:
        con.close()
