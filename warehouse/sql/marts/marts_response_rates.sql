-- marts.response_rates: registry x drug x route x instrument x week (registry/route 'all' = pooled).
-- Evaluable = a baseline above the remission cut-off (baseline_evaluable) and a week-w score.
-- Response = score <= 50 % of baseline.
-- Remission: PHQ9 < 5, QIDS_SR16 <= 5, HAMD17 <= 7, MADRS <= 10 (remitters) and MADRS <= 12
-- (remitters_alt); clinical-reference 1.3.
-- Observed cases, not intention-to-treat: patients who stopped (mostly non-responders after
-- induction) have no week-w score and are not counted. Sensitivity "missing = non-response":
-- patients_followed = patients with a baseline followed to the week (its window ended before the
-- data did; int_followup), responders_followed = the responders among them; every followed patient
-- without a responding week-w score counts as a non-responder.
-- A group/week whose followed patients all lack a week-w score keeps its row: patients_evaluable
-- = responders = remitters (= remitters_alt for MADRS) = 0, mean_baseline / mean_score / sd_score
-- NULL (so the observed rates and their intervals are empty, not 0 %), patients_followed = N,
-- responders_followed = 0 with its Wilson interval; so the group rows add up to 'all' (and
-- suppression sees every part of a total). Every row has patients_evaluable > 0 or
-- patients_followed > 0.
-- Intervals (Wilson) and the mean-score t interval are added by reports.stats after this runs.
CREATE OR REPLACE TABLE marts.response_rates AS
WITH x AS (
    -- a week-w score per row (obs), plus the followed counts (int_followup) as extra rows without
    -- a score: both add up over the grouping sets
    SELECT registry_id, grp_drug, grp_route, instrument, week, baseline, score, followed, 0 AS followed_n
    FROM int_week_scores
    UNION ALL
    SELECT registry_id, grp_drug, grp_route, instrument, week, NULL, NULL, false, patients_followed
    FROM int_followup
)
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
       CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
       instrument, week,
       count(score) AS patients_evaluable,
       count(*) FILTER (WHERE score <= 0.5 * baseline) AS responders,
       count(*) FILTER (WHERE in_remission(instrument, score)) AS remitters,
       CASE instrument WHEN 'PHQ9' THEN 'PHQ-9 < 5' WHEN 'QIDS_SR16' THEN 'QIDS-SR16 <= 5'
                       WHEN 'MADRS' THEN 'MADRS <= 10' WHEN 'HAMD17' THEN 'HAM-D17 <= 7' END AS remission_definition,
       CASE WHEN instrument = 'MADRS' THEN count(*) FILTER (WHERE score <= 12) END AS remitters_alt,
       CASE WHEN instrument = 'MADRS' THEN 'MADRS <= 12' END AS remission_definition_alt,
       avg(baseline) AS mean_baseline, avg(score) AS mean_score, stddev_samp(score) AS sd_score,
       sum(followed_n)::BIGINT AS patients_followed,
       count(*) FILTER (WHERE followed AND score <= 0.5 * baseline) AS responders_followed
FROM x
GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, instrument, week), (grp_drug, grp_route, instrument, week),
                        (registry_id, instrument, week), (instrument, week));

-- marts.regimen_response: the same by dose regimen (pooled registries when no registry filter).
CREATE OR REPLACE TABLE marts.regimen_response AS
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       regimen, instrument, week, count(*) AS patients_evaluable,
       count(*) FILTER (WHERE score <= 0.5 * baseline) AS responders
FROM int_week_scores
GROUP BY GROUPING SETS ((registry_id, regimen, instrument, week), (regimen, instrument, week));
