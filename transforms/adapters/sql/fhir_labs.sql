-- Laboratory observations (LOINC, see fhir_lab_codes) -> fhir_out_labs; ULN from referenceRange.high.
CREATE OR REPLACE TEMP TABLE fhir_out_labs AS
SELECT o._line::BIGINT AS _line, o.id::VARCHAR AS lab_id, o.patient_id::VARCHAR AS patient_id,
       fhir_day(o.time_text) AS collected_on, l.test::VARCHAR AS test, o.value::VARCHAR AS value,
       o.unit::VARCHAR AS unit, o.high::VARCHAR AS uln
FROM fhir_obs o JOIN fhir_lab_codes l ON l.code = o.code
WHERE o.pos = 0;
