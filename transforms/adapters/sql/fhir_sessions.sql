-- MedicationAdministration (+ its Encounter, Medication and weight) -> fhir_sessions, one row per
-- treatment session. A session is the administration's Encounter (R4 `context`); several
-- administrations in one encounter (split doses) make one session whose dose and devices are their
-- sums; other drugs given in a ketamine-family session (an antiemetic) are not part of it (counted
-- in skipped).
-- not-done, on-hold, entered-in-error and unknown administrations make no session. Doses in g or
-- ug become mg; weights (29463-7 in the session's encounter) in [lb_av] or g become kg.
CREATE OR REPLACE TEMP TABLE fhir_admins AS
WITH ma AS (
    SELECT r._line, r.id, r.j,
           fhir_ref(json_extract_string(r.j, '$.subject.reference'))                                AS patient_id,
           -- an administration given without an Encounter is a session of its own, named as a reference
           -- to it: ids are unique per resource type only, so its bare id may be an Encounter's too
           coalesce(fhir_ref(json_extract_string(r.j, '$.context.reference')),
                    'MedicationAdministration/' || r.id)                                            AS session_id,
           fhir_ref(json_extract_string(r.j, '$.context.reference')) IS NULL                       AS keyed_by_admin,
           fhir_time(r.j)                                                       AS start_text,
           TRY_CAST(fhir_time(r.j) AS TIMESTAMPTZ)                              AS start_ts,
           TRY_CAST(json_extract_string(r.j, '$.effectivePeriod.end') AS TIMESTAMPTZ)               AS end_ts,
           fhir_ref(json_extract_string(r.j, '$.medicationReference.reference'))                    AS med_ref,
           json_extract_string(r.j, '$.dosage.route.coding[*].code')                                AS route_codes,
           json_extract_string(r.j, '$.dosage.dose.value')                                          AS dose_value,
           lower(coalesce(json_extract_string(r.j, '$.dosage.dose.code'), json_extract_string(r.j, '$.dosage.dose.unit'), '')) AS dose_unit,
           fhir_ext(r.j, 'urn:ketamine-outcomes:ext:devices', '$.valueInteger') AS devices,
           lower(coalesce(json_extract_string(r.j, '$.medicationCodeableConcept'), '') || ' ' || coalesce(json_extract_string(r.j, '$.contained'), '')) AS med_text
    FROM fhir_res r
    WHERE r.rtype = 'MedicationAdministration' AND json_extract_string(r.j, '$.status') IN ('completed', 'in-progress', 'stopped')
),
named AS (
    SELECT ma.*, ma.med_text || ' ' || lower(coalesce(json_extract_string(m.j, '$.code'), '')) AS drug_text
    FROM ma LEFT JOIN fhir_res m ON m.rtype = 'Medication' AND m.id = ma.med_ref
),
typed AS (
    SELECT n.*,
           fhir_drug(drug_text)                                                 AS drug,
           -- the first coding that is a known SNOMED route (EHRs often put a local code first), else
           -- the first code as it came, to fail the route rule visibly
           coalesce(list_filter(list_transform(route_codes, c -> CASE c WHEN '46713006' THEN 'intranasal'
                WHEN '47625008' THEN 'iv' WHEN '78421000' THEN 'im' WHEN '26643006' THEN 'oral'
                WHEN '37839007' THEN 'sublingual' WHEN '34206005' THEN 'subcutaneous' END), x -> x IS NOT NULL)[1],
                    route_codes[1])                                             AS route,
           TRY_CAST(dose_value AS DOUBLE) * CASE dose_unit WHEN 'mg' THEN 1 WHEN 'g' THEN 1000
                WHEN 'ug' THEN 0.001 WHEN 'mcg' THEN 0.001 END                  AS dose_mg,
           coalesce(CASE WHEN dose_unit IN ('mg/kg', 'mg/kg{body weight}') THEN TRY_CAST(dose_value AS DOUBLE) END,
                    TRY_CAST(fhir_ext(j, 'urn:ketamine-outcomes:ext:dose-mg-per-kg', '$.valueDecimal') AS DOUBLE)) AS dose_mg_per_kg
    FROM named n
)
SELECT *, bool_or(drug <> 'other') OVER (PARTITION BY session_id) AS ketamine_session FROM typed;

CREATE OR REPLACE TEMP TABLE fhir_sessions AS
WITH typed AS (  -- in a ketamine session, another drug's administration (an antiemetic) is not the session
    SELECT * FROM fhir_admins WHERE drug <> 'other' OR NOT ketamine_session
),
weights AS (
    SELECT encounter_id, any_value(CASE WHEN factor = 1 THEN value
                                        ELSE fhir_whole(round(TRY_CAST(value AS DOUBLE) * factor, 2)::VARCHAR) END) AS weight_kg
    FROM (
        SELECT fhir_ref(json_extract_string(r.j, '$.encounter.reference')) AS encounter_id, fhir_value(r.j) AS value,
               CASE lower(coalesce(json_extract_string(r.j, '$.valueQuantity.code'), json_extract_string(r.j, '$.valueQuantity.unit'), 'kg'))
                    WHEN 'kg' THEN 1 WHEN 'g' THEN 0.001
                    WHEN '[lb_av]' THEN 0.45359237 WHEN 'lb' THEN 0.45359237 WHEN 'lbs' THEN 0.45359237 END AS factor
        FROM fhir_res r
        WHERE r.rtype = 'Observation' AND list_contains(fhir_codes(r.j), '29463-7')
          AND coalesce(json_extract_string(r.j, '$.status'), '') NOT IN ('entered-in-error', 'cancelled')
    )
    WHERE factor IS NOT NULL AND TRY_CAST(value AS DOUBLE) IS NOT NULL
    GROUP BY 1
)
-- A session without an Encounter is keyed by its administration: session_id
-- "MedicationAdministration/<id>" ('/' is no FHIR id character, so it never equals an Encounter's
-- id, which Observations, responses and adverse events name), and its _line is in the band above
-- 10^15 (as QuestionnaireResponse rows are in assessments), so that a deleted Encounter and a
-- deleted MedicationAdministration each withdraw only the sessions their type keyed
-- (sql/fhir_deleted.sql), sessions loaded before it had its own id included.
SELECT min(t._line) + CASE WHEN bool_and(t.keyed_by_admin) THEN 1000000000000000 ELSE 0 END AS _line,
       t.session_id,
       arg_min(t.patient_id, t._line)                                AS patient_id,
       arg_min(t.start_text, t.start_ts)                             AS session_start,
       min(t.start_ts)                                               AS start_ts,
       arg_min(t.drug, t._line)                                      AS drug,
       arg_min(t.route, t._line)                                     AS route,
       sum(t.dose_mg)                                                AS dose_mg,
       sum(t.dose_mg_per_kg)                                         AS dose_mg_per_kg,
       any_value(w.weight_kg)                                        AS weight_kg,
       CASE WHEN max(t.end_ts) > min(t.start_ts) THEN date_diff('minute', min(t.start_ts), max(t.end_ts)) END AS infusion_minutes,
       -- devices add up as the dose does (one administration per 28 mg device charts devices = 1 on
       -- each); a count that is no whole number is kept as sent, to fail the devices type rule
       CASE WHEN bool_and(t.devices IS NULL OR regexp_full_match(t.devices, '[0-9]+'))
            THEN CAST(sum(TRY_CAST(t.devices AS BIGINT)) AS VARCHAR)
            ELSE arg_min(t.devices, t._line) FILTER (WHERE NOT regexp_full_match(t.devices, '[0-9]+')) END AS devices,
       CASE any_value(json_extract_string(e.j, '$.class.code')) WHEN 'AMB' THEN 'clinic' WHEN 'IMP' THEN 'inpatient'
            WHEN 'ACUTE' THEN 'inpatient' WHEN 'EMER' THEN 'emergency' WHEN 'HH' THEN 'home' END AS setting,
       CASE WHEN TRY_CAST(any_value(json_extract_string(e.j, '$.period.end')) AS TIMESTAMPTZ) >= min(t.start_ts)
            THEN date_diff('minute', min(t.start_ts), TRY_CAST(any_value(json_extract_string(e.j, '$.period.end')) AS TIMESTAMPTZ)) END AS monitoring_minutes
FROM typed t
LEFT JOIN fhir_res e ON e.rtype = 'Encounter' AND e.id = t.session_id
LEFT JOIN weights w ON w.encounter_id = t.session_id
GROUP BY t.session_id;
