-- int_efficacy: baseline and week-w scores per patient and instrument (PHQ9, MADRS, QIDS_SR16).
-- Baseline = the last score at or before the first session and at most 14 days before it.
-- Day = calendar days from the first session. Week-w score = the assessment nearest to day 7w
-- within the window below (ties: the earlier one):
--   week 1: days 4-10, 2: 11-17, 4: 21-35, 8: 46-66, 12: 70-98, 26: 154-210, 52: 322-406.
CREATE OR REPLACE TEMP TABLE int_scores AS
SELECT a.registry_id, a.patient_key, p.grp_drug, p.grp_route, p.regimen, a.instrument, a.total_score,
       a.assessed_at, p.first_start,
       date_diff('day', p.first_start::DATE, a.assessed_at::DATE) AS day
FROM src_assessments a
JOIN int_patients p USING (registry_id, patient_key)
WHERE a.instrument IN ('PHQ9', 'MADRS', 'QIDS_SR16') AND a.total_score IS NOT NULL AND a.assessed_at IS NOT NULL;

CREATE OR REPLACE TEMP TABLE int_baseline AS
SELECT registry_id, patient_key, instrument, arg_max(total_score, assessed_at) AS baseline
FROM int_scores
WHERE assessed_at <= first_start AND assessed_at >= first_start - INTERVAL 14 DAY
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE seed_week_windows AS
SELECT * FROM (VALUES (1, 4, 10), (2, 11, 17), (4, 21, 35), (8, 46, 66), (12, 70, 98),
                      (26, 154, 210), (52, 322, 406)) t(week, day_from, day_to);

CREATE OR REPLACE TEMP TABLE int_week_scores AS
-- The windows do not overlap, so each score falls in at most one week: a lookup by day (a CASE
-- generated from the same numbers as seed_week_windows) instead of a range join, and grouping on
-- the patient key only (group, regimen and baseline are the patient's, constant per key).
WITH s AS (
    SELECT registry_id, patient_key, grp_drug, grp_route, regimen, instrument, day, assessed_at, total_score,
           CASE WHEN day BETWEEN 4 AND 10 THEN 1 WHEN day BETWEEN 11 AND 17 THEN 2 WHEN day BETWEEN 21 AND 35 THEN 4
                WHEN day BETWEEN 46 AND 66 THEN 8 WHEN day BETWEEN 70 AND 98 THEN 12 WHEN day BETWEEN 154 AND 210 THEN 26
                WHEN day BETWEEN 322 AND 406 THEN 52 END AS week
    FROM int_scores
    WHERE day BETWEEN 4 AND 406
)
SELECT s.registry_id, s.patient_key, any_value(s.grp_drug) AS grp_drug, any_value(s.grp_route) AS grp_route,
       any_value(s.regimen) AS regimen, s.instrument, s.week, any_value(b.baseline) AS baseline,
       arg_min(s.total_score, (abs(s.day - 7 * s.week), s.day, s.assessed_at)) AS score
FROM s
JOIN int_baseline b USING (registry_id, patient_key, instrument)
WHERE b.baseline > 0 AND s.week IS NOT NULL
GROUP BY s.registry_id, s.patient_key, s.instrument, s.week;
