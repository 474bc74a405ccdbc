-- int_sessions: one row per session with its patient's treatment group and exposure time.
-- Treatment group (grp_drug, grp_route) = drug and route of the patient's first session: every
-- efficacy and safety stratum uses it, so a patient counts in one group only.
-- Phase: induction = days 0-27 after the first session (esketamine label: weeks 1-4), else
-- maintenance. Exposure attributed to a session = days to the patient's next session, at most 28;
-- after the last session 7 days (clinical-reference 7.1 PROPOSED), never past the cutoff.
-- The patient is its integer pid (int_patient_keys maps it to registry and patient key): the
-- patient key is a 64-character hash, and sorting, grouping and joining 1.7M sessions on it cost
-- more than the one join below that swaps it for the pid; every model after this one counts and
-- joins patients by pid. (registry_id is never NULL: every record carries its export's registry.)
CREATE OR REPLACE TEMP TABLE int_patient_keys AS
SELECT k.registry_id, k.patient_key, coalesce(p.site_id, 'unknown') AS site_id, row_number() OVER () AS pid
FROM (SELECT DISTINCT registry_id, patient_key FROM src_sessions WHERE patient_key IS NOT NULL AND session_start IS NOT NULL) k
LEFT JOIN src_patients p USING (registry_id, patient_key);

CREATE OR REPLACE TEMP TABLE int_sessions AS
WITH s AS (
    SELECT k.pid, s.registry_id, s.session_id, s.session_start, s.session_start_instant, s.drug, s.route, s.dose_mg,
           s.dose_mg_per_kg, s.monitoring_minutes,
           s.setting IS NOT NULL AS has_setting, s.setting = 'home' AS at_home,  -- flags, not the string
           first_value(s.session_start) OVER w AS first_start,
           row_number() OVER w = 1 AS is_first,
           lead(s.session_start) OVER w AS next_start
    FROM src_sessions s
    JOIN int_patient_keys k USING (registry_id, patient_key)
    WHERE s.session_start IS NOT NULL
    -- one window (one sort) for all three; the first session is the earliest, ties by session_id
    WINDOW w AS (PARTITION BY k.pid ORDER BY s.session_start, s.session_id)
)
-- Only the columns the models use (dose goes into dose_band): the table is read by most models, and
-- a narrow one stays in memory under the build's memory limit. What is the patient's (site, and
-- the treatment group: drug and route of the session with is_first) is in int_patients, joined by
-- pid after the models reduce sessions per patient: a string column here costs ~0.05 s per copy.
SELECT * EXCLUDE (dose_mg, dose_mg_per_kg, next_start, first_start),
       utc_month(session_start) AS month,
       CASE WHEN date_diff('day', utc_date(first_start), utc_date(session_start)) < 28 THEN 'induction' ELSE 'maintenance' END AS phase,
       CASE
           WHEN drug = 'esketamine' AND dose_mg IS NOT NULL THEN printf('%d mg', CAST(round(dose_mg) AS INTEGER))
           -- oral: ~20-25 % bioavailable, IV-equivalent at ~2.0-2.5 mg/kg (clinical-reference 2.2),
           -- so the IV bands would put most oral doses in '>1.0'
           WHEN route = 'oral' AND dose_mg_per_kg IS NOT NULL AND dose_mg_per_kg < 1.0 THEN 'oral <1.0 mg/kg'
           WHEN route = 'oral' AND dose_mg_per_kg IS NOT NULL AND dose_mg_per_kg <= 2.5 THEN 'oral 1.0-2.5 mg/kg'
           WHEN route = 'oral' AND dose_mg_per_kg IS NOT NULL THEN 'oral >2.5 mg/kg'
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

-- dose_band_order(band): the order of the dose bands above, for "lowest band" (int_patients'
-- regimen tie-break): their names do not sort as text ('0.5 mg/kg' < '<0.5 mg/kg', '100 mg' <
-- '28 mg'). Within a family by dose; families in the order of the CASE; 'unknown' last. Keep in
-- step with the CASE (tests/reports check every band it produces has a rank).
CREATE OR REPLACE TEMP MACRO dose_band_order(b) AS CASE
    WHEN regexp_full_match(b, '[0-9]+ mg') THEN 1000 + CAST(split_part(b, ' ', 1) AS INTEGER)  -- esketamine
    WHEN b = 'oral <1.0 mg/kg' THEN 200001 WHEN b = 'oral 1.0-2.5 mg/kg' THEN 200002 WHEN b = 'oral >2.5 mg/kg' THEN 200003
    WHEN b = '<0.5 mg/kg' THEN 300001 WHEN b = '0.5 mg/kg' THEN 300002 WHEN b = '>0.5-1.0 mg/kg' THEN 300003
    WHEN b = '>1.0 mg/kg' THEN 300004
    WHEN b = '<50 mg' THEN 400001 WHEN b = '50-99 mg' THEN 400002 WHEN b = '>=100 mg' THEN 400003
    ELSE 999999 END;
