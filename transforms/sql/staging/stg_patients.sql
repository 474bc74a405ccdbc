-- raw_patients (text as it arrived) -> stg_patients: typed, pseudonymised, with the facts the
-- patients suite checks. Birth dates and ZIP codes are reduced here, before anything is stored.
CREATE OR REPLACE TEMP TABLE stg_patients AS
WITH typed AS (
    SELECT r._line,
           k.patient_key,
           as_date(r.birth_date)                      AS birth_date,
           unparsed(r.birth_date, as_date(r.birth_date)) AS birth_date__unparsed,
           as_int(r.birth_year)                       AS birth_year_raw,
           unparsed(r.birth_year, as_int(r.birth_year)) AS birth_year__unparsed,
           txt(r.sex)                                 AS sex,
           txt(r.zip)                                 AS zip,
           as_date(r.enrolled_on)                     AS enrolled_on,
           unparsed(r.enrolled_on, as_date(r.enrolled_on)) AS enrolled_on__unparsed,
           txt(r.site_id)                             AS site_id,
           as_int(r.trd_failed_trials)                AS trd_failed_trials,
           unparsed(r.trd_failed_trials, as_int(r.trd_failed_trials)) AS trd_failed_trials__unparsed,
           upper(txt(r.diagnosis_icd10))              AS diagnosis_icd10
    FROM raw_patients r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.* EXCLUDE (birth_date, birth_year_raw),
       coalesce(year(t.birth_date), t.birth_year_raw)                     AS birth_year,
       year(getvariable('exported_at')::TIMESTAMPTZ)                      AS _export_year,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                      AS _export_date,
       make_date(coalesce(year(t.birth_date), t.birth_year_raw), 1, 1)    AS _birth_floor,
       CASE WHEN t.patient_key IS NOT NULL THEN count(*) OVER (PARTITION BY t.patient_key) END AS _key_count
FROM typed t;
