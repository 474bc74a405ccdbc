-- raw_patients (text as it arrived) -> stg_patients: typed, pseudonymised, with the facts the
-- patients suite checks. Birth dates and ZIP codes are reduced here, before anything is stored.
CREATE OR REPLACE TEMP TABLE stg_patients AS
WITH typed AS (
    SELECT r._line,
           k.patient_key,
           as_date(r.birth_date)                      AS birth_date,
           r.birth_date AS birth_date__raw,
           as_int(r.birth_year)                       AS birth_year_raw,
           r.birth_year AS birth_year__raw,
           txt(r.sex)                                 AS sex,
           txt(r.zip)                                 AS zip,
           as_date(r.enrolled_on)                     AS enrolled_on,
           r.enrolled_on AS enrolled_on__raw,
           redact(unid(txt(r.site_id)))               AS site_id,
           coalesce(has_identifier(r.site_id), false) OR has_id(r.site_id) AS _text_identifier,
           as_int(r.trd_failed_trials)                AS trd_failed_trials,
           r.trd_failed_trials AS trd_failed_trials__raw,
           upper(txt(r.diagnosis_icd10))              AS diagnosis_icd10
    FROM raw_patients r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.* EXCLUDE (birth_date, birth_year_raw, birth_date__raw, birth_year__raw, enrolled_on__raw, trd_failed_trials__raw),
       unparsed(t.birth_date__raw, t.birth_date) AS birth_date__unparsed,
       unparsed(t.birth_year__raw, t.birth_year_raw) AS birth_year__unparsed,
       unparsed(t.enrolled_on__raw, t.enrolled_on) AS enrolled_on__unparsed,
       unparsed(t.trd_failed_trials__raw, t.trd_failed_trials) AS trd_failed_trials__unparsed,
       coalesce(year(t.birth_date), t.birth_year_raw)                     AS birth_year,
       year(getvariable('exported_at')::TIMESTAMPTZ)                      AS _export_year,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                      AS _export_date,
       CASE WHEN coalesce(year(t.birth_date), t.birth_year_raw) BETWEEN 1 AND 9999   -- else make_date fails
            THEN make_date(coalesce(year(t.birth_date), t.birth_year_raw), 1, 1) END AS _birth_floor,
       CASE WHEN t.patient_key IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM typed t
-- duplicate keys, counted on the raw text (cheaper than on the typed rows)
LEFT JOIN (SELECT patient_key, count(*) AS _n FROM (SELECT k.patient_key FROM raw_patients r JOIN pk_map k ON k.patient_id = txt(r.patient_id)) WHERE patient_key IS NOT NULL GROUP BY ALL HAVING count(*) > 1) dup
       ON dup.patient_key IS NOT DISTINCT FROM t.patient_key;
