-- raw_sessions -> stg_sessions. ctx_patients holds the patients this export may refer to: the
-- valid rows of this export's patients file and the registry's current patients.
CREATE OR REPLACE TEMP TABLE stg_sessions AS
WITH typed AS (
    SELECT r._line,
           txt(r.session_id)                         AS session_id,
           k.patient_key,
           as_ts(r.session_start)                    AS session_start,
           unparsed(r.session_start, as_ts(r.session_start)) AS session_start__unparsed,
           lower(txt(r.drug))                        AS drug,
           lower(txt(r.route))                       AS route,
           as_double(r.dose_mg)                      AS dose_mg,
           unparsed(r.dose_mg, as_double(r.dose_mg)) AS dose_mg__unparsed,
           as_double(r.dose_mg_per_kg)               AS dose_mg_per_kg,
           unparsed(r.dose_mg_per_kg, as_double(r.dose_mg_per_kg)) AS dose_mg_per_kg__unparsed,
           as_double(r.weight_kg)                    AS weight_kg,
           unparsed(r.weight_kg, as_double(r.weight_kg)) AS weight_kg__unparsed,
           as_int(r.infusion_minutes)                AS infusion_minutes,
           unparsed(r.infusion_minutes, as_int(r.infusion_minutes)) AS infusion_minutes__unparsed,
           as_int(r.devices)                         AS devices,
           unparsed(r.devices, as_int(r.devices))    AS devices__unparsed,
           lower(txt(r.setting))                     AS setting,
           as_int(r.monitoring_minutes)              AS monitoring_minutes,
           unparsed(r.monitoring_minutes, as_int(r.monitoring_minutes)) AS monitoring_minutes__unparsed
    FROM raw_sessions r
    LEFT JOIN pk_map k ON k.patient_id = txt(r.patient_id)
)
SELECT t.*,
       getvariable('exported_at')::TIMESTAMPTZ                       AS _exported_at,
       (p.patient_key IS NOT NULL)                                    AS _patient_exists,
       (p.enrolled_on - INTERVAL 30 DAY)::TIMESTAMPTZ                 AS _earliest_start,
       CASE WHEN t.dose_mg_per_kg IS NOT NULL AND t.weight_kg IS NOT NULL AND t.dose_mg IS NOT NULL
            THEN abs(t.dose_mg - t.dose_mg_per_kg * t.weight_kg) / nullif(t.dose_mg_per_kg * t.weight_kg, 0)
       END                                                            AS _dose_mismatch,
       CASE WHEN t.drug = 'esketamine' AND t.dose_mg IS NOT NULL THEN t.dose_mg / 28.0 END AS _esk_devices,
       CASE WHEN t.session_id IS NOT NULL THEN count(*) OVER (PARTITION BY t.session_id) END AS _key_count
FROM typed t
LEFT JOIN ctx_patients p ON p.patient_key = t.patient_key;
