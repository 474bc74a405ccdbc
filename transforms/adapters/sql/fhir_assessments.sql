-- Score observations -> fhir_out_assessments. Instruments: PHQ-9 total 44261-6, GAD-7 70274-6 (LOINC);
-- MADRS, QIDS_SR16, HAMD17, CADSS, MOAAS in the local code system urn:ketamine-outcomes:instrument
-- (no LOINC codes exist for them). Item scores come from the observation's components, in the
-- order of fhir_items (LOINC item codes, or local codes <INSTRUMENT>.<n>), and only when every item
-- is there. minutes_after_dose is counted from the session's dose when the score belongs to one.
CREATE OR REPLACE TEMP TABLE fhir_out_assessments AS
WITH totals AS (
    SELECT o.*, i.instrument
    FROM fhir_obs o JOIN fhir_instruments i ON i.code = o.code
    WHERE o.pos = 0
),
items AS (
    SELECT t.id, string_agg(c.value, ';' ORDER BY it.position) AS item_scores, count(c.value) AS n,
           any_value(it.n_items) AS n_items
    FROM totals t
    JOIN fhir_obs c ON c.id = t.id AND c.pos > 0
    JOIN fhir_items it ON it.instrument = t.instrument AND it.code = c.code
    GROUP BY t.id
)
SELECT t._line::BIGINT AS _line, t.id::VARCHAR AS assessment_id, t.patient_id::VARCHAR AS patient_id,
       t.session_id::VARCHAR AS session_id, t.time_text::VARCHAR AS assessed_at, t.instrument::VARCHAR AS instrument,
       t.value::VARCHAR AS total_score,
       CASE WHEN i.n = i.n_items THEN i.item_scores END::VARCHAR AS item_scores,
       CASE WHEN s.start_ts IS NOT NULL THEN greatest(date_diff('minute', s.start_ts, t.ts), 0) END::VARCHAR AS minutes_after_dose
FROM totals t
LEFT JOIN items i ON i.id = t.id
LEFT JOIN fhir_sessions s ON s.session_id = t.session_id;
