-- raw_sessions -> stg_sessions. ctx_patients holds the patients this export may refer to: the
-- valid rows of this export's patients file and the registry's current patients.
CREATE OR REPLACE TEMP TABLE stg_sessions AS
WITH typed AS (
    SELECT r._line,
           txt(r.session_id)                         AS session_id,
           k.patient_key,
           as_ts(r.session_start)                    AS session_start,
           r.session_start AS session_start__raw,
           lower(txt(r.drug))                        AS drug,
           lower(txt(r.route))                       AS route,
           as_double(r.dose_mg)                      AS dose_mg,
           r.dose_mg AS dose_mg__raw,
           as_double(r.dose_mg_per_kg)               AS dose_mg_per_kg,
           r.dose_mg_per_kg AS dose_mg_per_kg__raw,
           as_double(r.weight_kg)                    AS weight_kg,
           r.weight_kg AS weight_kg__raw,
           as_int(r.infusion_minutes)                AS infusion_minutes,
           r.infusion_minutes AS infusion_minutes__raw,
           as_int(r.devices)                         AS devices,
           r.devices AS devices__raw,
           lower(txt(r.setting))                     AS setting,
           as_int(r.monitoring_minutes)              AS monitoring_minutes,
           r.monitoring_minutes AS monitoring_minutes__raw
    FROM raw_sessions r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.* EXCLUDE (session_start__raw, dose_mg__raw, dose_mg_per_kg__raw, weight_kg__raw, infusion_minutes__raw, devices__raw, monitoring_minutes__raw),
       unparsed(t.session_start__raw, t.session_start) AS session_start__unparsed,
       unparsed(t.dose_mg__raw, t.dose_mg) AS dose_mg__unparsed,
       unparsed(t.dose_mg_per_kg__raw, t.dose_mg_per_kg) AS dose_mg_per_kg__unparsed,
       unparsed(t.weight_kg__raw, t.weight_kg) AS weight_kg__unparsed,
       unparsed(t.infusion_minutes__raw, t.infusion_minutes) AS infusion_minutes__unparsed,
       unparsed(t.devices__raw, t.devices) AS devices__unparsed,
       unparsed(t.monitoring_minutes__raw, t.monitoring_minutes) AS monitoring_minutes__unparsed,
       day_of(t.session_start)                                        AS _session_date,
       getvariable('exported_at')::TIMESTAMPTZ::DATE                 AS _export_date,
       (p.patient_key IS NOT NULL)                                    AS _patient_exists,
       p.enrolled_on - 30                                             AS _earliest_start,
       CASE WHEN t.dose_mg_per_kg IS NOT NULL AND t.weight_kg IS NOT NULL AND t.dose_mg IS NOT NULL
            THEN abs(t.dose_mg - t.dose_mg_per_kg * t.weight_kg) / nullif(t.dose_mg_per_kg * t.weight_kg, 0)
       END                                                            AS _dose_mismatch,
       CASE WHEN t.drug = 'esketamine' AND t.dose_mg IS NOT NULL THEN t.dose_mg / 28.0 END AS _esk_devices,
       CASE WHEN t.session_id IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM typed t
LEFT JOIN ctx_patients p ON p.patient_key = t.patient_key
-- duplicate keys: dup_sessions (staging/duplicates.sql)
LEFT JOIN dup_sessions dup
       ON dup.session_id IS NOT DISTINCT FROM t.session_id;
