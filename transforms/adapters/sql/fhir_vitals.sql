-- Vital-sign observations -> fhir_out_vitals: one row per vitals key (session, time point, minutes
-- after the dose), BP from the panel's components (or standalone 8480-6 / 8462-4), heart rate 8867-4,
-- SpO2 59408-5 / 2708-6 (clinical-reference 3.4 marks 8867-4, 59408-5 and 2708-6 UNVERIFIED: see
-- docs/adapters.md for what backs them). The time point is the timepoint extension when present, else derived from
-- the minutes after the dose: <= 0 pre, 30-50 post40, otherwise other; minutes before the dose are 0.
-- Readings charted apart within one key (a heart rate seconds after the blood pressure, or a
-- pre-dose re-check) make one row, each measure the latest reading's: two rows with one key would
-- both be quarantined as duplicates. fhir_vitals_superseded counts the earlier readings not kept.
-- Minutes are counted from the session's first dose, whole minutes on the clock (date_diff).
CREATE OR REPLACE TEMP TABLE fhir_vitals_all AS
WITH v AS (
    SELECT o._line, o.session_id, o.code, o.value, o.ts,
           fhir_ext(o.j, 'urn:ketamine-outcomes:ext:timepoint', '$.valueCode') AS tp_ext,
           date_diff('minute', s.start_ts, o.ts) AS minutes
    FROM fhir_obs o JOIN fhir_sessions s ON s.session_id = o.session_id
    WHERE o.code IN ('8480-6', '8462-4', '8867-4', '59408-5', '2708-6')
)
SELECT _line, session_id, value, ts,
       CASE WHEN code IN ('59408-5', '2708-6') THEN 'spo2' ELSE code END AS measure,
       coalesce(tp_ext, CASE WHEN minutes <= 0 THEN 'pre' WHEN minutes BETWEEN 30 AND 50 THEN 'post40' ELSE 'other' END) AS timepoint,
       CASE WHEN minutes IS NOT NULL THEN greatest(minutes, 0) END AS minutes_after_dose,  -- greatest(NULL, 0) is 0
       minutes IS NULL OR minutes BETWEEN -720 AND 1440 AS near_dose
FROM v;

-- A session's encounter may be a whole admission: readings more than 12 h before or 24 h after the
-- dose (the contract's minutes_after_dose range) are not the session's (counted as skipped).
CREATE OR REPLACE TEMP TABLE fhir_vitals_values AS SELECT * EXCLUDE (near_dose) FROM fhir_vitals_all WHERE near_dose;

CREATE OR REPLACE TEMP TABLE fhir_out_vitals AS
WITH latest AS (
    SELECT session_id, timepoint, minutes_after_dose, measure, arg_max(value, (coalesce(ts, '-infinity'::TIMESTAMPTZ), _line)) AS value
    FROM fhir_vitals_values WHERE value IS NOT NULL
    GROUP BY ALL
)
SELECT k._line::BIGINT AS _line, k.session_id::VARCHAR AS session_id, k.timepoint,
       k.minutes_after_dose::VARCHAR AS minutes_after_dose,
       max(CASE WHEN l.measure = '8480-6' THEN l.value END) AS sbp,
       max(CASE WHEN l.measure = '8462-4' THEN l.value END) AS dbp,
       max(CASE WHEN l.measure = '8867-4' THEN l.value END) AS heart_rate,
       max(CASE WHEN l.measure = 'spo2' THEN l.value END) AS spo2
FROM (SELECT session_id, timepoint, minutes_after_dose, min(_line) AS _line FROM fhir_vitals_values GROUP BY ALL) k
LEFT JOIN latest l ON l.session_id = k.session_id AND l.timepoint IS NOT DISTINCT FROM k.timepoint
                  AND l.minutes_after_dose IS NOT DISTINCT FROM k.minutes_after_dose
GROUP BY k._line, k.session_id, k.timepoint, k.minutes_after_dose;

-- A reading is an observation's (or component's) measure, counted once: a US Core pulse oximetry
-- Observation carries 59408-5 and 2708-6 together, two code rows of one SpO2 reading.
CREATE OR REPLACE TEMP TABLE fhir_vitals_superseded AS
SELECT (SELECT count(*) FROM (SELECT DISTINCT _line, measure FROM fhir_vitals_values WHERE value IS NOT NULL))
     - (SELECT count(*) FROM (SELECT DISTINCT session_id, timepoint, minutes_after_dose, measure
                              FROM fhir_vitals_values WHERE value IS NOT NULL)) AS n;
