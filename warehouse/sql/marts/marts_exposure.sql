-- marts.exposure: patients, sessions, patient-years by registry, site, drug, route, dose band and
-- phase, per month (period 'YYYY-MM', by session start) and cumulative (period 'cumulative').
-- Drug and route here are the session's own. 'all' marks a dimension summed over.
-- Patient-years: each session's attributed exposure (int_sessions) / 365.25, in the month it starts.
-- Sessions are first summed per patient and finest stratum (x), so the grouping sets below count
-- distinct patients (by their integer pid) over ~10x fewer rows; sums of counts and of whole
-- days are exact.
CREATE OR REPLACE TABLE marts.exposure AS
WITH pm AS (
    SELECT registry_id, patient_key, site_id, drug, route, dose_band, phase, month,
           count(*) AS n, sum(exposure_days) AS days
    FROM int_sessions
    GROUP BY registry_id, patient_key, site_id, drug, route, dose_band, phase, month
), x AS (
    SELECT p.pid, m.registry_id, m.site_id, m.drug, m.route, m.dose_band, m.phase, m.period, m.n, m.days
    FROM (SELECT registry_id, patient_key, site_id, drug, route, dose_band, phase, month AS period, n, days FROM pm
          UNION ALL
          SELECT registry_id, patient_key, site_id, drug, route, dose_band, phase, 'cumulative', sum(n), sum(days)
          FROM pm GROUP BY registry_id, patient_key, site_id, drug, route, dose_band, phase) m
    JOIN int_patients p USING (registry_id, patient_key)
)
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       CASE WHEN grouping(site_id) = 1 THEN 'all' ELSE site_id END AS site_id,
       CASE WHEN grouping(drug) = 1 THEN 'all' ELSE drug END AS drug,
       CASE WHEN grouping(route) = 1 THEN 'all' ELSE route END AS route,
       CASE WHEN grouping(dose_band) = 1 THEN 'all' ELSE dose_band END AS dose_band,
       CASE WHEN grouping(phase) = 1 THEN 'all' ELSE phase END AS phase,
       period,
       count(DISTINCT pid) AS patients,
       sum(n)::BIGINT AS sessions,
       sum(days) / 365.25 AS patient_years
FROM x
WHERE getvariable('report_month') IS NULL OR period IN (getvariable('report_month'), 'cumulative')
GROUP BY GROUPING SETS (
    (registry_id, site_id, drug, route, dose_band, phase, period),
    (registry_id, drug, route, dose_band, period), (drug, route, dose_band, period),
    (registry_id, drug, route, phase, period), (drug, route, phase, period),
    (registry_id, site_id, period), (registry_id, drug, route, period), (drug, route, period),
    (registry_id, period), (period))
UNION ALL
-- A report (variable report_month set) shows the other months only as sessions per month by group
-- (and needs no site, dose band or phase breakdown of them): those months get the four sets it reads.
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       'all' AS site_id,
       CASE WHEN grouping(drug) = 1 THEN 'all' ELSE drug END AS drug,
       CASE WHEN grouping(route) = 1 THEN 'all' ELSE route END AS route,
       'all' AS dose_band,
       'all' AS phase,
       period,
       count(DISTINCT pid) AS patients,
       sum(n)::BIGINT AS sessions,
       sum(days) / 365.25 AS patient_years
FROM x
WHERE getvariable('report_month') IS NOT NULL AND period NOT IN (getvariable('report_month'), 'cumulative')
GROUP BY GROUPING SETS ((registry_id, drug, route, period), (drug, route, period), (registry_id, period), (period));
