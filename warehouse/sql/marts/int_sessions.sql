-- int_sessions: one row per session with its patient's treatment group and exposure time.
-- Treatment group (grp_drug, grp_route) = drug and route of the patient's first session: every
-- efficacy and safety stratum uses it, so a patient counts in one group only.
-- Phase: induction = days 0-27 after the first session (esketamine label: weeks 1-4), else
-- maintenance. Exposure attributed to a session = days to the patient's next session, at most 28;
-- after the last session 7 days (clinical-reference 7.1 PROPOSED), never past the cutoff.
CREATE OR REPLACE TEMP TABLE int_sessions AS
WITH s AS (
    SELECT s.registry_id, s.patient_key, s.session_id, s.session_start, s.drug, s.route, s.dose_mg,
           s.dose_mg_per_kg, s.monitoring_minutes, s.setting,
           coalesce(p.site_id, 'unknown') AS site_id,
           first_value(s.session_start) OVER w AS first_start,
           first_value(s.drug) OVER w AS grp_drug,
           first_value(s.route) OVER w AS grp_route,
           lead(s.session_start) OVER w AS next_start
    FROM src_sessions s
    LEFT JOIN src_patients p USING (registry_id, patient_key)
    WHERE s.patient_key IS NOT NULL AND s.session_start IS NOT NULL
    -- one window (one sort) for all four; the first session is the earliest, ties by session_id
    WINDOW w AS (PARTITION BY s.registry_id, s.patient_key ORDER BY s.session_start, s.session_id)
)
-- Only the columns the models use (dose and setting go into dose_band): the table is read by most
-- models, and a narrow one stays in memory under the build's memory limit.
SELECT * EXCLUDE (dose_mg, dose_mg_per_kg, setting, next_start),
       utc_month(session_start) AS month,
       CASE WHEN date_diff('day', utc_date(first_start), utc_date(session_start)) < 28 THEN 'induction' ELSE 'maintenance' END AS phase,
       CASE
           WHEN drug = 'esketamine' AND dose_mg IS NOT NULL THEN printf('%d mg', CAST(round(dose_mg) AS INTEGER))
           WHEN dose_mg_per_kg IS NOT NULL AND dose_mg_per_kg < 0.5 THEN '<0.5 mg/kg'
           WHEN dose_mg_per_kg IS NOT NULL AND dose_mg_per_kg <= 0.5 THEN '0.5 mg/kg'
           WHEN dose_mg_per_kg IS NOT NULL AND dose_mg_per_kg <= 1.0 THEN '>0.5-1.0 mg/kg'
           WHEN dose_mg_per_kg IS NOT NULL THEN '>1.0 mg/kg'
           WHEN dose_mg IS NOT NULL AND dose_mg < 50 THEN '<50 mg'
           WHEN dose_mg IS NOT NULL AND dose_mg < 100 THEN '50-99 mg'
           WHEN dose_mg IS NOT NULL THEN '>=100 mg'
           ELSE 'unknown'
       END AS dose_band,
       greatest(0, CASE
           WHEN next_start IS NOT NULL THEN least(date_diff('day', utc_date(session_start), utc_date(next_start)), 28)
           WHEN getvariable('cutoff') IS NOT NULL THEN least(7, date_diff('day', utc_date(session_start), getvariable('cutoff')::DATE))
           ELSE 7 END) AS exposure_days
FROM s;
