-- marts.time_to_response: one row per patient and instrument with an evaluable baseline
-- (baseline_evaluable, seed_macros.sql; no patient key).
-- Time to first response = time from the first dose to the first post-dose assessment with score
-- <= 50 % of baseline, in days to the minute, elapsed (int_scores.hours: a daylight-saving change
-- in between does not count; relief comes in hours: a MADRS 4 hours after the
-- first infusion is day 0.17, not left out as "day 0"); censored at the last assessment. Relapse (loss of response, PROPOSED
-- rule since SUSTAIN-1's is UNVERIFIED) = after the first response, two consecutive assessments
-- each above 50 % of baseline, the second at least 5 days after the first (SUSTAIN-1's spacing is
-- 5-15 days: two scores of one day, or of one week's sessions, are no loss of response), dated at
-- the second; time counted from the response, censored at the last assessment.
-- first_assessed_day: the first assessment after the first dose: a Kaplan-Meier
-- estimate by day t is shown only once someone has been assessed by then (reports.stats.estimable).
-- Per patient by pid (int_scores); registry and group are joined from int_patients at the end.
CREATE OR REPLACE TABLE marts.time_to_response AS
WITH post AS (
    SELECT s.pid, s.instrument, s.hours / 24 AS day, s.assessed_at,
           s.total_score <= 0.5 * b.baseline AS is_resp
    FROM int_scores s JOIN int_baseline b USING (pid, instrument) JOIN int_patients pt USING (pid)
    WHERE baseline_evaluable(b.instrument, b.baseline) AND s.assessed_at > pt.first_start
), first_resp AS (
    SELECT pid, instrument, min(day) FILTER (WHERE is_resp) AS resp_day, max(day) AS last_day, min(day) AS first_day
    FROM post GROUP BY ALL
), after AS (
    SELECT p.pid, p.instrument, p.day,
           NOT p.is_resp AND NOT lag(p.is_resp, 1, true) OVER w AND p.day - lag(p.day) OVER w >= 5 AS relapse_here
    FROM post p JOIN first_resp f USING (pid, instrument)
    WHERE f.resp_day IS NOT NULL AND p.day > f.resp_day
    WINDOW w AS (PARTITION BY p.pid, p.instrument ORDER BY p.day, p.assessed_at)
), relapse AS (
    SELECT pid, instrument, min(day) FILTER (WHERE relapse_here) AS relapse_day
    FROM after GROUP BY ALL
)
SELECT pt.registry_id, pt.grp_drug AS drug, pt.grp_route AS route, f.instrument,
       coalesce(f.resp_day, f.last_day) AS days_to_response,
       f.resp_day IS NOT NULL AS responded,
       CASE WHEN f.resp_day IS NOT NULL THEN coalesce(r.relapse_day, f.last_day) - f.resp_day END AS days_to_relapse,
       CASE WHEN f.resp_day IS NOT NULL THEN r.relapse_day IS NOT NULL END AS relapsed,
       f.first_day AS first_assessed_day
FROM first_resp f
JOIN int_patients pt USING (pid)
LEFT JOIN relapse r USING (pid, instrument);
