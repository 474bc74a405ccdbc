-- int_efficacy: baseline and week-w scores per patient and instrument (PHQ9, MADRS, QIDS_SR16, HAMD17).
-- Observed cases: a patient without a week-w score is not in week w's denominator (no LOCF, no
-- imputation); int_followup gives the sensitivity denominator counting them as non-responders.
-- Baseline = the last score at or before the first session and at most 14 days before it.
-- Day = calendar days from the first session. Week-w score = the assessment nearest to day 7w
-- within the window below (ties: the earlier one):
--   week 1: days 4-10, 2: 11-17, 4: 21-35, 8: 46-66, 12: 70-98, 26: 154-210, 52: 322-406.
-- int_scores (~2.5M rows at 10M assessments) holds the patient as its integer pid only: group,
-- regimen and registry are the patient's (int_patients), joined back after reducing per patient.
-- in_baseline_window: at or before the first session and at most 14 days (elapsed, on the
-- instants: epoch microseconds, without ICU) before it. hours: elapsed since the first dose.
CREATE OR REPLACE TEMP TABLE int_scores AS
SELECT p.pid, a.instrument, a.total_score, a.assessed_at,
       date_diff('day', utc_date(p.first_start), utc_date(a.assessed_at)) AS day,
       (epoch_us(a.assessed_at_instant) - epoch_us(p.first_instant)) / 3600e6 AS hours,
       a.assessed_at <= p.first_start
           AND epoch_us(a.assessed_at_instant) >= epoch_us(p.first_instant) - 14 * 86400000000 AS in_baseline_window
FROM src_assessments a
JOIN int_patients p USING (registry_id, patient_key)
WHERE a.instrument IN ('PHQ9', 'MADRS', 'QIDS_SR16', 'HAMD17') AND a.total_score IS NOT NULL AND a.assessed_at IS NOT NULL;

CREATE OR REPLACE TEMP TABLE int_baseline AS
SELECT pid, instrument, arg_max(total_score, assessed_at) AS baseline
FROM int_scores
WHERE in_baseline_window
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE seed_week_windows AS
SELECT * FROM (VALUES (1, 4, 10), (2, 11, 17), (4, 21, 35), (8, 46, 66), (12, 70, 98),
                      (26, 154, 210), (52, 322, 406)) t(week, day_from, day_to);

-- Follow-up for the "missing = non-response" sensitivity: a patient is followed to week w when the
-- week's window has ended before the data do: first-session date + day_to < data_end, the first
-- day without data. Per registry, in a report and a rebuild alike: the day after its latest
-- loaded export (src_data_ends), never later than the cut-off. A registry whose exports lag has
-- its own, earlier data end: its patients are not counted as followed (and as non-responders) past
-- the data it sent. A registry without an export in ops.loads (a warehouse written by hand): the
-- day after its latest session.
CREATE OR REPLACE TEMP TABLE int_data_end AS
SELECT p.registry_id,
       least(getvariable('cutoff')::DATE, coalesce(any_value(d.data_end), max(utc_date(p.last_start)) + 1)) AS data_end
FROM int_patients p LEFT JOIN src_data_ends d USING (registry_id)
GROUP BY p.registry_id;

-- int_followup: per group, instrument and week, the patients with an evaluable baseline
-- (baseline_evaluable: above the remission cut-off) followed to
-- that week, whether or not they had a week-w score (the denominator counting missing as
-- non-response). Counted per patient's follow-up days against the 7 windows (~7 rows per patient
-- with a baseline; no scan of assessments).
CREATE OR REPLACE TEMP TABLE int_followup AS
SELECT p.registry_id, p.grp_drug, p.grp_route, b.instrument, w.week, count(*) AS patients_followed
FROM (SELECT pid, instrument FROM int_baseline WHERE baseline_evaluable(instrument, baseline)) b
JOIN (SELECT pid, registry_id, grp_drug, grp_route, date_diff('day', utc_date(first_start), e.data_end) AS fu
      FROM int_patients JOIN int_data_end e USING (registry_id)) p USING (pid)
JOIN seed_week_windows w ON w.day_to < p.fu
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE int_week_scores AS
-- The windows do not overlap, so each score falls in at most one week: a lookup by day (a CASE
-- generated from the same numbers as seed_week_windows) instead of a range join, and grouping on
-- the patient's pid only (group, regimen and baseline are the patient's, constant per pid).
WITH s AS (
    SELECT pid, instrument, day, assessed_at, total_score,
           CASE WHEN day BETWEEN 4 AND 10 THEN 1 WHEN day BETWEEN 11 AND 17 THEN 2 WHEN day BETWEEN 21 AND 35 THEN 4
                WHEN day BETWEEN 46 AND 66 THEN 8 WHEN day BETWEEN 70 AND 98 THEN 12 WHEN day BETWEEN 154 AND 210 THEN 26
                WHEN day BETWEEN 322 AND 406 THEN 52 END AS week
    FROM int_scores
    WHERE day BETWEEN 4 AND 406
), w AS (
    SELECT s.pid, s.instrument, s.week, any_value(b.baseline) AS baseline,
           arg_min(s.total_score, (abs(s.day - 7 * s.week), s.day, s.assessed_at)) AS score
    FROM s
    JOIN int_baseline b USING (pid, instrument)
    WHERE baseline_evaluable(b.instrument, b.baseline) AND s.week IS NOT NULL
    GROUP BY s.pid, s.instrument, s.week
)
SELECT p.registry_id, p.grp_drug, p.grp_route, p.regimen, w.instrument, w.week, w.baseline, w.score,
       -- followed to the week (int_followup's rule): counts in the "missing = non-response" rate
       date_diff('day', utc_date(p.first_start), e.data_end)
           > CASE w.week WHEN 1 THEN 10 WHEN 2 THEN 17 WHEN 4 THEN 35 WHEN 8 THEN 66 WHEN 12 THEN 98
                         WHEN 26 THEN 210 WHEN 52 THEN 406 END AS followed
FROM w JOIN int_patients p USING (pid) JOIN int_data_end e USING (registry_id);
