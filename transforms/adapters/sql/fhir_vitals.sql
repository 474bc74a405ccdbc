-- Vital-sign observations -> fhir_out_vitals: one row per session and time of measurement, BP from the
-- panel's components (or standalone 8480-6 / 8462-4), heart rate 8867-4, SpO2 59408-5 / 2708-6.
-- The time point is the timepoint extension when present, else derived from the minutes after the
-- dose: <= 0 pre, 30-50 post40, otherwise other.
CREATE OR REPLACE TEMP TABLE fhir_out_vitals AS
WITH v AS (
    SELECT o.*, s.start_ts,
           fhir_ext(o.j, 'urn:ketamine-outcomes:ext:timepoint', '$.valueCode') AS tp_ext
    FROM fhir_obs o JOIN fhir_sessions s ON s.session_id = o.session_id
    WHERE o.code IN ('8480-6', '8462-4', '8867-4', '59408-5', '2708-6')
),
g AS (
    SELECT min(_line) AS _line, session_id, time_text,
           any_value(tp_ext) AS tp_ext,
           date_diff('minute', any_value(start_ts), any_value(ts)) AS minutes,
           max(CASE WHEN code = '8480-6' THEN value END) AS sbp,
           max(CASE WHEN code = '8462-4' THEN value END) AS dbp,
           max(CASE WHEN code = '8867-4' THEN value END) AS heart_rate,
           max(CASE WHEN code IN ('59408-5', '2708-6') THEN value END) AS spo2
    FROM v GROUP BY session_id, time_text
)
SELECT _line::BIGINT AS _line, session_id::VARCHAR AS session_id,
       coalesce(tp_ext, CASE WHEN minutes <= 0 THEN 'pre' WHEN minutes BETWEEN 30 AND 50 THEN 'post40' ELSE 'other' END) AS timepoint,
       greatest(minutes, 0)::VARCHAR AS minutes_after_dose,
       sbp, dbp, heart_rate, spo2
FROM g;
