-- The sessions rows of this export may refer to, with each session's pre-dose pressure.
CREATE OR REPLACE TEMP TABLE ctx_sessions AS
WITH here AS (
    SELECT session_id, patient_key, session_start FROM out_sessions
), there AS (
    -- current sessions that stay current (see ctx_patients.sql) and whose patient does
    SELECT c.session_id, c.patient_key, c.session_start FROM wh.core.sessions c
    WHERE c.registry_id = getvariable('registry_id') AND c.session_id NOT IN (SELECT session_id FROM here)
      AND (NOT list_contains(coalesce(getvariable('withdrawing'), []::VARCHAR[]), 'sessions')
           OR c.session_id IN (SELECT session_id FROM keys_sessions))
      AND c.patient_key IN (SELECT patient_key FROM ctx_patients)
), pre AS (
    -- the earliest pre-dose reading, as stg_vitals.sql and the marts take it
    SELECT session_id, arg_min(sbp, pre_rank(minutes_after_dose, source_row)) AS pre_sbp,
           arg_min(dbp, pre_rank(minutes_after_dose, source_row)) AS pre_dbp
    FROM wh.core.vitals
    WHERE registry_id = getvariable('registry_id') AND timepoint = 'pre' AND sbp IS NOT NULL AND dbp IS NOT NULL
    GROUP BY session_id
)
SELECT s.*, pre.pre_sbp, pre.pre_dbp
FROM (SELECT * FROM here UNION ALL SELECT * FROM there) s
LEFT JOIN pre USING (session_id);
