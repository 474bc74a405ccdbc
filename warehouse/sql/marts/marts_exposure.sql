-- marts.exposure: patients, sessions, patient-years by registry, site, drug, route, dose band and
-- phase, per month (period 'YYYY-MM', by session start) and cumulative (period 'cumulative').
-- Drug and route here are the session's own. 'all' marks a dimension summed over.
-- Patient-years: each session's attributed exposure (int_sessions) / 365.25, in the month it starts.
-- Sessions are first summed per patient and finest stratum (x), then per patient at each coarser
-- level of detail (below), so that a count of rows is a count of distinct patients (by their
-- integer pid, int_sessions); sums of counts and of whole days are exact.
CREATE OR REPLACE TABLE marts.exposure AS
WITH pm AS (
    -- registry and site are the patient's (pid): not grouping keys; the site from int_patients
    SELECT s.*, p.site_id
    FROM (SELECT pid, any_value(registry_id) AS registry_id, drug, route, dose_band, phase, month,
                 count(*) AS n, sum(exposure_days) AS days
          FROM int_sessions
          GROUP BY pid, drug, route, dose_band, phase, month) s
    JOIN int_patients p USING (pid)
), x AS (
    SELECT pid, registry_id, site_id, drug, route, dose_band, phase, month AS period, n, days FROM pm
    UNION ALL
    SELECT pid, any_value(registry_id), any_value(site_id), drug, route, dose_band, phase, 'cumulative', sum(n), sum(days)
    FROM pm GROUP BY pid, drug, route, dose_band, phase
), detail AS (
    -- the periods that get every breakdown: all of them in a rebuild, a report's month and
    -- 'cumulative' in a report (the other months get sessions per month by group only, below)
    SELECT * FROM x WHERE getvariable('report_month') IS NULL OR period IN (getvariable('report_month'), 'cumulative')
), by_band AS (
    SELECT pid, any_value(registry_id) AS registry_id, drug, route, dose_band, period, sum(n) AS n, sum(days) AS days
    FROM detail GROUP BY pid, drug, route, dose_band, period
), by_phase AS (
    SELECT pid, any_value(registry_id) AS registry_id, drug, route, phase, period, sum(n) AS n, sum(days) AS days
    FROM detail GROUP BY pid, drug, route, phase, period
), by_route AS (
    SELECT pid, any_value(registry_id) AS registry_id, drug, route, period, sum(n) AS n, sum(days) AS days
    FROM x GROUP BY pid, drug, route, period
), by_patient AS (
    SELECT pid, any_value(registry_id) AS registry_id, any_value(site_id) AS site_id, period, sum(n) AS n, sum(days) AS days
    FROM x GROUP BY pid, period
)
-- Distinct patients: x has one row per patient and finest stratum (registry and site are the
-- patient's), so each coarser breakdown is first summed per patient at its own level of detail
-- (by_band, by_phase, by_route, by_patient) and its grouping sets count rows, not DISTINCT pids
-- (DuckDB keeps a distinct hash table per grouping set: ~3x the CPU of these sums).
SELECT registry_id, site_id, drug, route, dose_band, phase, period,
       count(*) AS patients, sum(n)::BIGINT AS sessions, sum(days) / 365.25 AS patient_years
FROM detail
GROUP BY registry_id, site_id, drug, route, dose_band, phase, period
UNION ALL
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END, 'all', drug, route, dose_band, 'all', period,
       count(*), sum(n)::BIGINT, sum(days) / 365.25
FROM by_band
GROUP BY GROUPING SETS ((registry_id, drug, route, dose_band, period), (drug, route, dose_band, period))
UNION ALL
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END, 'all', drug, route, 'all', phase, period,
       count(*), sum(n)::BIGINT, sum(days) / 365.25
FROM by_phase
GROUP BY GROUPING SETS ((registry_id, drug, route, phase, period), (drug, route, phase, period))
UNION ALL
-- A report (variable report_month set) shows the other months only as sessions per month by group
-- (and needs no site, dose band or phase breakdown of them): every month gets the sets by group,
-- registry and total, only the detail periods the one by site.
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END, 'all', drug, route, 'all', 'all', period,
       count(*), sum(n)::BIGINT, sum(days) / 365.25
FROM by_route
GROUP BY GROUPING SETS ((registry_id, drug, route, period), (drug, route, period))
UNION ALL
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END, 'all', 'all', 'all', 'all', 'all', period,
       count(*), sum(n)::BIGINT, sum(days) / 365.25
FROM by_patient
GROUP BY GROUPING SETS ((registry_id, period), (period))
UNION ALL
SELECT registry_id, site_id, 'all', 'all', 'all', 'all', period, count(*), sum(n)::BIGINT, sum(days) / 365.25
FROM by_patient
WHERE getvariable('report_month') IS NULL OR period IN (getvariable('report_month'), 'cumulative')
GROUP BY registry_id, site_id, period;
