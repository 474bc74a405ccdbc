-- Patient -> fhir_out_patients. Only birth year, sex, the ZIP's first 3 digits and the managing
-- organisation (as site) are read: names, addresses, telecom, identifiers and the exact birth date
-- never leave the resource. FHIR has no enrolment date: the enrolled-on extension when present,
-- else the patient's first treatment session, else (no session) the first encounter. The diagnosis
-- is the latest F32/F33 Condition not refuted or entered in error (its verificationStatus read with
-- fhir_code: a local coding may come before the HL7 one).
CREATE OR REPLACE TEMP TABLE fhir_out_patients AS
WITH firsts AS (  -- the first treatment session; only a patient without one, the first encounter
    SELECT patient_id, coalesce(min(d) FILTER (WHERE session), min(d)) AS first_day FROM (
        SELECT patient_id, start_ts::DATE AS d, true AS session FROM fhir_sessions
        UNION ALL
        SELECT fhir_ref(json_extract_string(j, '$.subject.reference')), TRY_CAST(json_extract_string(j, '$.period.start') AS TIMESTAMPTZ)::DATE, false
        FROM fhir_res WHERE rtype = 'Encounter'
    ) GROUP BY patient_id
),
dx AS (
    SELECT fhir_ref(json_extract_string(j, '$.subject.reference')) AS patient_id,
           arg_max(c.code, coalesce(json_extract_string(j, '$.recordedDate'), json_extract_string(j, '$.onsetDateTime'), '')) AS code
    FROM (SELECT j, unnest(json_extract(j, '$.code.coding[*]')) AS cc FROM fhir_res WHERE rtype = 'Condition'
          AND coalesce(fhir_code(json_extract(j, '$.verificationStatus'),
                                 'http://terminology.hl7.org/CodeSystem/condition-ver-status',
                                 ['unconfirmed', 'provisional', 'differential', 'confirmed', 'refuted', 'entered-in-error']),
                       '') NOT IN ('refuted', 'entered-in-error')) x,
         LATERAL (SELECT json_extract_string(x.cc, '$.code') AS code) c
    WHERE lower(coalesce(json_extract_string(x.cc, '$.system'), '')) LIKE '%icd-10%' AND regexp_matches(c.code, '^F3[23]')
    GROUP BY 1
)
SELECT r._line::BIGINT                                                          AS _line,
       r.id::VARCHAR                                                            AS patient_id,
       NULL::VARCHAR                                                            AS birth_date,
       CASE WHEN regexp_matches(coalesce(json_extract_string(r.j, '$.birthDate'), ''), '^[0-9]{4}') THEN left(json_extract_string(r.j, '$.birthDate'), 4) END AS birth_year,
       CASE json_extract_string(r.j, '$.gender') WHEN 'female' THEN 'F' WHEN 'male' THEN 'M' WHEN 'other' THEN 'X' WHEN 'unknown' THEN 'U' END AS sex,
       -- a US ZIP's first 3 digits; another postal code has no prefix to keep: a marker that breaks
       -- patients.zip.format (a warning; zip3 stored NULL)
       CASE WHEN zip_shaped(trim(json_extract_string(r.j, '$.address[0].postalCode')))
            THEN left(trim(json_extract_string(r.j, '$.address[0].postalCode')), 3)
            WHEN trim(json_extract_string(r.j, '$.address[0].postalCode')) <> '' THEN 'not a ZIP' END AS zip,
       coalesce(fhir_ext(r.j, 'urn:ketamine-outcomes:ext:enrolled-on', '$.valueDate'), f.first_day::VARCHAR) AS enrolled_on,
       fhir_ref(json_extract_string(r.j, '$.managingOrganization.reference'))                       AS site_id,
       fhir_ext(r.j, 'urn:ketamine-outcomes:ext:trd-failed-trials', '$.valueInteger') AS trd_failed_trials,
       dx.code                                                                  AS diagnosis_icd10
FROM fhir_res r
LEFT JOIN firsts f ON f.patient_id = r.id
LEFT JOIN dx ON dx.patient_id = r.id
WHERE r.rtype = 'Patient';
