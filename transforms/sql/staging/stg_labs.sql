-- raw_labs -> stg_labs, with the value as a multiple of the upper limit of normal.
CREATE OR REPLACE TEMP TABLE stg_labs AS
WITH typed AS (
    SELECT r._line,
           txt(r.lab_id)                              AS lab_id,
           k.patient_key,
           as_date(r.collected_on)                    AS collected_on,
           r.collected_on AS collected_on__raw,
           redact(upper(unid(txt(r.test))))          AS test,
           as_double(r.value)                         AS value,
           r.value AS value__raw,
           redact(unid(txt(r.unit)))                  AS unit,
           coalesce(has_identifier(r.test) OR has_identifier(r.unit), false)
               OR has_id(r.test) OR has_id(r.unit) AS _text_identifier,
           as_double(r.uln)                           AS uln,
           r.uln AS uln__raw
    FROM raw_labs r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.* EXCLUDE (collected_on__raw, value__raw, uln__raw),
       unparsed(t.collected_on__raw, t.collected_on) AS collected_on__unparsed,
       unparsed(t.value__raw, t.value) AS value__unparsed,
       unparsed(t.uln__raw, t.uln) AS uln__unparsed,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                    AS _export_date,
       (p.patient_key IS NOT NULL)                                      AS _patient_exists,
       CASE WHEN t.uln > 0 THEN t.value / t.uln END                     AS _x_uln,
       CASE WHEN t.lab_id IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM typed t
LEFT JOIN ctx_patients p ON p.patient_key = t.patient_key
-- duplicate keys: dup_labs (staging/duplicates.sql)
LEFT JOIN dup_labs dup
       ON dup.lab_id IS NOT DISTINCT FROM t.lab_id;
