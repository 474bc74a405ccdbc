-- The sessions rows of this export may refer to, with each session's pre-dose pressure.
CREATE OR REPLACE TEMP TABLE ctx_sessions AS
WITH here AS (
    SELECT session_id, patient_key, session_start FROM out_sessions
), there AS (
    SELECT c.session_id, c.patient_key, c.session_start FROM wh.core.sessions c
    WHERE c.registry_id = getvariable('registry_id') AND c.session_id NOT IN (SELECT session_id FROM here)
), pre AS (
    SELECT session_id, arg_min(sbp, minutes_after_dose) AS pre_sbp, arg_min(dbp, minutes_after_dose) AS pre_dbp
    FROM wh.core.vitals
    WHERE registry_id = getvariable('registry_id') AND timepoint = 'pre'
    GROUP BY session_id
)
SELECT s.*, pre.pre_sbp, pre.pre_dbp
FROM (SELECT * FROM here UNION ALL SELECT * FROM there) s
LEFT JOIN pre USING (session_id);
