-- raw_adverse_events -> stg_adverse_events, with the patient's first dose for the onset rule and
-- the ICH E2A criteria folded into one flag for the seriousness rule.
CREATE OR REPLACE TEMP TABLE stg_adverse_events AS
WITH typed AS (
    SELECT r._line,
           txt(r.ae_id)                               AS ae_id,
           k.patient_key,
           txt(r.session_id)                          AS session_id,
           as_date(r.onset_date)                      AS onset_date,
           r.onset_date AS onset_date__raw,
           redact(unid(txt(r.term)))                  AS term,
           redact(unid(txt(r.meddra_pt)))             AS meddra_pt,
           coalesce(has_identifier(r.term) OR has_identifier(r.meddra_pt), false)
               OR has_id(r.term) OR has_id(r.meddra_pt) AS _text_identifier,
           txt(r.meddra_code)                         AS meddra_code,
           lower(txt(r.severity))                     AS severity,
           as_flag(r.serious)                         AS serious,
           r.serious AS serious__raw,
           as_flag(r.death)                           AS death,
           r.death AS death__raw,
           as_flag(r.life_threatening)                AS life_threatening,
           r.life_threatening AS life_threatening__raw,
           as_flag(r.hospitalization)                 AS hospitalization,
           r.hospitalization AS hospitalization__raw,
           as_flag(r.disability)                      AS disability,
           r.disability AS disability__raw,
           as_flag(r.congenital_anomaly)              AS congenital_anomaly,
           r.congenital_anomaly AS congenital_anomaly__raw,
           as_flag(r.medically_important)             AS medically_important,
           r.medically_important AS medically_important__raw,
           lower(txt(r.related))                      AS related,
           lower(txt(r.outcome))                      AS outcome,
           as_date(r.resolved_date)                   AS resolved_date,
           r.resolved_date AS resolved_date__raw
    FROM raw_adverse_events r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
),
first_dose AS (
    SELECT patient_key, min(session_start)::DATE AS first_session FROM ctx_sessions GROUP BY patient_key
)
SELECT t.* EXCLUDE (onset_date__raw, serious__raw, death__raw, life_threatening__raw, hospitalization__raw, disability__raw, congenital_anomaly__raw, medically_important__raw, resolved_date__raw),
       unparsed(t.onset_date__raw, t.onset_date) AS onset_date__unparsed,
       unparsed(t.serious__raw, t.serious) AS serious__unparsed,
       unparsed(t.death__raw, t.death) AS death__unparsed,
       unparsed(t.life_threatening__raw, t.life_threatening) AS life_threatening__unparsed,
       unparsed(t.hospitalization__raw, t.hospitalization) AS hospitalization__unparsed,
       unparsed(t.disability__raw, t.disability) AS disability__unparsed,
       unparsed(t.congenital_anomaly__raw, t.congenital_anomaly) AS congenital_anomaly__unparsed,
       unparsed(t.medically_important__raw, t.medically_important) AS medically_important__unparsed,
       unparsed(t.resolved_date__raw, t.resolved_date) AS resolved_date__unparsed,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                    AS _export_date,
       (p.patient_key IS NOT NULL)                                      AS _patient_exists,
       CASE WHEN t.session_id IS NULL THEN NULL ELSE s.session_id IS NOT NULL END AS _session_exists,
       f.first_session - 1                                              AS _earliest_onset,
       (coalesce(t.death, false) OR coalesce(t.life_threatening, false) OR coalesce(t.hospitalization, false)
        OR coalesce(t.disability, false) OR coalesce(t.congenital_anomaly, false)
        OR coalesce(t.medically_important, false))                     AS _criteria_met,
       CASE WHEN t.ae_id IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM typed t
LEFT JOIN ctx_patients p ON p.patient_key = t.patient_key
LEFT JOIN ctx_sessions s ON s.session_id = t.session_id
LEFT JOIN first_dose f ON f.patient_key = t.patient_key
-- duplicate keys: dup_adverse_events (staging/duplicates.sql)
LEFT JOIN dup_adverse_events dup
       ON dup.ae_id IS NOT DISTINCT FROM t.ae_id;
