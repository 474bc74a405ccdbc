-- raw_labs -> stg_labs, with the value as a multiple of the upper limit of normal.
CREATE OR REPLACE TEMP TABLE stg_labs AS
WITH typed AS (
    SELECT r._line,
           txt(r.lab_id)                              AS lab_id,
           k.patient_key,
           as_date(r.collected_on)                    AS collected_on,
           unparsed(r.collected_on, as_date(r.collected_on)) AS collected_on__unparsed,
           upper(txt(r.test))                         AS test,
           as_double(r.value)                         AS value,
           unparsed(r.value, as_double(r.value))      AS value__unparsed,
           txt(r.unit)                                AS unit,
           as_double(r.uln)                           AS uln,
           unparsed(r.uln, as_double(r.uln))          AS uln__unparsed
    FROM raw_labs r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.*,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                    AS _export_date,
       (p.patient_key IS NOT NULL)                                      AS _patient_exists,
       CASE WHEN t.uln > 0 THEN t.value / t.uln END                     AS _x_uln,
       CASE WHEN t.lab_id IS NOT NULL THEN count(*) OVER (PARTITION BY t.lab_id) END AS _key_count
FROM typed t
LEFT JOIN ctx_patients p ON p.patient_key = t.patient_key;
