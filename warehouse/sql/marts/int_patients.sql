-- int_patients: one row per treated patient: group, first and last session, exposure, regimen.
-- pid: a small integer per patient, for counting distinct patients cheaply (marts_exposure).
-- Dose regimen = group plus the most frequent dose band of the induction phase (ties: lowest band).
CREATE OR REPLACE TEMP TABLE int_patients AS
SELECT registry_id, patient_key, any_value(site_id) AS site_id,
       any_value(grp_drug) AS grp_drug, any_value(grp_route) AS grp_route,
       min(session_start) AS first_start, max(session_start) AS last_start,
       count(*) AS sessions, sum(exposure_days) / 365.25 AS patient_years,
       any_value(grp_drug) || ' ' || any_value(grp_route) || ' ' ||
           coalesce(mode(dose_band ORDER BY dose_band) FILTER (WHERE phase = 'induction'), 'unknown') AS regimen,
       row_number() OVER () AS pid
FROM int_sessions
GROUP BY registry_id, patient_key;
