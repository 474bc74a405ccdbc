-- Observations flattened to one row per (observation or component, code): the observation's own
-- codes with its own value, and each component's codes with the component's value. The session
-- an observation belongs to is its Encounter when that is a treatment session; one charted without
-- an encounter link belongs to the patient's session starting within 12 hours of it. One that names
-- another encounter (an emergency visit) belongs to no session. answer_code: the LOINC answer code of a
-- coded value (item answers that only some items have, read in fhir_assessments.sql).
CREATE OR REPLACE TEMP TABLE fhir_obs AS
WITH o AS (
    SELECT r._line, r.id, r.j,
           fhir_ref(json_extract_string(r.j, '$.subject.reference'))        AS patient_id,
           fhir_ref(json_extract_string(r.j, '$.encounter.reference'))      AS encounter_id,
           fhir_time(r.j)                               AS time_text,
           TRY_CAST(fhir_time(r.j) AS TIMESTAMPTZ)      AS ts,
           fhir_codes(r.j)                              AS codes
    FROM fhir_res r
    WHERE r.rtype = 'Observation' AND coalesce(json_extract_string(r.j, '$.status'), '') NOT IN ('entered-in-error', 'cancelled')
),
linked AS (
    SELECT o.*,
           coalesce(s1.session_id, CASE WHEN o.encounter_id IS NULL THEN (
               SELECT arg_min(s.session_id, abs(epoch(s.start_ts) - epoch(o.ts)))
               FROM fhir_sessions s
               WHERE s.patient_id = o.patient_id AND abs(epoch(s.start_ts) - epoch(o.ts)) <= 12 * 3600
           ) END)                                      AS session_id
    FROM o LEFT JOIN fhir_sessions s1 ON s1.session_id = o.encounter_id
)
SELECT l._line, l.id, l.patient_id, l.session_id, l.time_text, l.ts, l.j, l.codes AS parent_codes,
       0 AS pos, unnest(l.codes) AS code, fhir_value(l.j) AS value,
       json_extract_string(l.j, '$.valueQuantity.unit') AS unit, json_extract_string(l.j, '$.referenceRange[0].high.value') AS high,
       fhir_answer_code(l.j) AS answer_code
FROM linked l
UNION ALL
SELECT c._line, c.id, c.patient_id, c.session_id, c.time_text, c.ts, c.j, c.codes, c.pos,
       unnest(json_extract_string(c.comp, '$.code.coding[*].code')), fhir_value(c.comp),
       json_extract_string(c.comp, '$.valueQuantity.unit'), NULL, fhir_answer_code(c.comp)
FROM (SELECT l.*, unnest(json_extract(l.j, '$.component[*]')) AS comp,
             generate_subscripts(json_extract(l.j, '$.component[*]'), 1) AS pos
      FROM linked l) c;
