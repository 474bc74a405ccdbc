-- marts.ae_rates: registry x drug x route (treatment group) x level x term x period.
-- patients_exposed, sessions, patient_years: the group's sessions in the period (month: sessions
-- starting in it, whose whole exposure window is credited to that month: int_sessions).
-- events, patients_with_event: onsets in the period of the period's exposed patients. A month counts
-- only events of its denominator: patients with a session in the month, and onsets on or after
-- their first session day of the month (earlier onsets fall under exposure credited to an earlier
-- month). An onset in a month with no session (after the last dose, or in a gap between doses) or
-- before the patient's first session of the month counts in 'cumulative' only, so a month's
-- incidence proportion is patients with >= 1 event among its exposed and its EAIR cases all have
-- time at risk in it (clinical-reference 7.1).
-- new_patients_with_event: patients whose first onset of the term falls in the period (a month: by
-- the rule above), over
-- py_at_risk = exposure minus the patient's exposure after the first onset (EAIR, clinical-reference
-- 7.1: time at risk to first event or end of exposure). A session's exposure window is the days
-- [session day, session day + exposure_days); after a first onset only the days up to and including
-- the onset day stay at risk (an onset on a dosing day keeps 1 day), so the window of the session
-- the event followed is cut at the onset, not kept whole (up to 28 days).
-- Incidence per 100 sessions = events / sessions x 100; EAER = events / patient_years x 100;
-- EAIR = new_patients_with_event / py_at_risk x 100. Exact intervals: reports.stats.
-- Performance: sessions and events are first counted per patient and period (one row per patient
-- there, since a patient has one treatment group), so patients are counted with count(*) instead of
-- a DISTINCT, and the grouping sets run over per-patient rows, never over sessions. Patients are
-- grouped and joined by their integer pid (int_sessions); registry and group, the same on every row
-- of a patient, are carried with any_value rather than grouped on.
-- For a report (variable report_month set) only that month and cumulative are built: other months
-- are one bucket ('other') that feeds the cumulative sums and is never output as a period.
CREATE OR REPLACE TABLE marts.ae_rates AS
WITH sp AS (
    SELECT s.*, p.registry_id, p.grp_drug, p.grp_route
    FROM (SELECT pid, CASE WHEN getvariable('report_month') IS NULL OR month = getvariable('report_month') THEN month ELSE 'other' END AS month,
                 count(*) AS n, sum(exposure_days) AS days, min(utc_date(session_start)) AS first_day
          FROM int_sessions GROUP BY pid, 2) s
    JOIN int_patients p USING (pid)
), pm AS (
    -- a month's exposed patients and their first session day in it (what a month's events need)
    SELECT pid, month, first_day FROM sp WHERE getvariable('report_month') IS NULL OR month = getvariable('report_month')
), spp AS (
    SELECT pid, registry_id, grp_drug, grp_route, month AS period, n, days FROM sp WHERE getvariable('report_month') IS NULL OR month = getvariable('report_month')
    UNION ALL
    SELECT pid, any_value(registry_id), any_value(grp_drug), any_value(grp_route), 'cumulative', sum(n), sum(days)
    FROM sp GROUP BY pid
), denom AS (
    SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
           CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
           CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
           period, count(*) AS patients_exposed, sum(n)::BIGINT AS sessions,
           sum(days) / 365.25 AS patient_years
    FROM spp
    GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, period), (grp_drug, grp_route, period),
                            (registry_id, period), (period))
), first_onset AS (
    SELECT pid, any_value(registry_id) AS registry_id, any_value(grp_drug) AS grp_drug, any_value(grp_route) AS grp_route,
           level, term, min(onset_date) AS first_onset
    FROM int_ae_terms GROUP BY pid, level, term
), tp AS (
    -- n: the events (cumulative); nm: those the month counts (patient exposed in the month, onset
    -- on or after the patient's first session day of the month)
    SELECT t.pid, any_value(t.registry_id) AS registry_id, any_value(t.grp_drug) AS grp_drug, any_value(t.grp_route) AS grp_route,
           t.level, t.term, CASE WHEN getvariable('report_month') IS NULL OR t.month = getvariable('report_month') THEN t.month ELSE 'other' END AS month,
           count(*) AS n, count(*) FILTER (WHERE t.onset_date >= m.first_day) AS nm
    FROM int_ae_terms t LEFT JOIN pm m ON m.pid = t.pid AND m.month = t.month
    GROUP BY t.pid, t.level, t.term, 7
), tpp AS (
    SELECT pid, registry_id, grp_drug, grp_route, level, term, month AS period, nm AS n FROM tp
    WHERE (getvariable('report_month') IS NULL OR month = getvariable('report_month')) AND nm > 0
    UNION ALL
    SELECT pid, any_value(registry_id), any_value(grp_drug), any_value(grp_route), level, term, 'cumulative', sum(n)
    FROM tp GROUP BY pid, level, term
), num AS (
    SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
           CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
           CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
           level, term, period, sum(n)::BIGINT AS events, count(*) AS patients_with_event
    FROM tpp
    GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, level, term, period), (grp_drug, grp_route, level, term, period),
                            (registry_id, level, term, period), (level, term, period))
), newp AS (
    SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
           CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
           CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
           level, term, period, count(*) AS new_patients_with_event
    FROM (SELECT f.registry_id, f.grp_drug, f.grp_route, f.level, f.term, 'cumulative' AS period FROM first_onset f
          UNION ALL
          -- a month: the first onset falls in it, on or after the patient's first session day of it
          SELECT f.registry_id, f.grp_drug, f.grp_route, f.level, f.term, m.month FROM first_onset f
          JOIN pm m ON m.pid = f.pid AND m.month = strftime(f.first_onset, '%Y-%m') AND f.first_onset >= m.first_day)
    GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, level, term, period), (grp_drug, grp_route, level, term, period),
                            (registry_id, level, term, period), (level, term, period))
), sd AS (
    -- exposure per patient and session day (the EAIR exclusion compares days; sessions on one
    -- day: all but the last have 0 days, so the sum is that day's window)
    SELECT pid, utc_date(session_start) AS d, CASE WHEN getvariable('report_month') IS NULL OR month = getvariable('report_month') THEN month ELSE 'other' END AS month,
           sum(exposure_days) AS days
    FROM int_sessions GROUP BY pid, utc_date(session_start), 3
), po AS (
    -- distinct (patient, onset day): a patient's terms share few onset days (the first event is
    -- the first onset of its term, its label group and 'any'), so the exclusion below is computed
    -- once per onset day and joined back to the terms (~0.15 s at 10M assessment rows)
    SELECT DISTINCT pid, first_onset FROM first_onset
), pox AS (
    -- excluded = the part of each window after the onset day: all of it for a session after the
    -- onset, the days past the onset day for the one the onset falls in (or before, if its window
    -- reaches past it), in the month the session starts (where its exposure counts)
    SELECT p.pid, p.first_onset, s.month,
           sum(s.days - greatest(0, least(s.days, date_diff('day', s.d, p.first_onset) + 1))) AS days
    FROM po p JOIN sd s USING (pid)
    WHERE s.d + s.days::INTEGER > p.first_onset + 1
    GROUP BY p.pid, p.first_onset, s.month
), ex AS (
    SELECT f.registry_id, f.grp_drug, f.grp_route, f.level, f.term, x.month, sum(x.days) AS days
    FROM first_onset f JOIN pox x USING (pid, first_onset)
    GROUP BY f.registry_id, f.grp_drug, f.grp_route, f.level, f.term, x.month
), exx AS (
    SELECT registry_id, grp_drug, grp_route, level, term, month AS period, days FROM ex WHERE getvariable('report_month') IS NULL OR month = getvariable('report_month')
    UNION ALL
    SELECT registry_id, grp_drug, grp_route, level, term, 'cumulative', sum(days)
    FROM ex GROUP BY registry_id, grp_drug, grp_route, level, term
), excl AS (
    SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
           CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
           CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
           level, term, period, sum(days) / 365.25 AS py_excluded
    FROM exx
    GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, level, term, period), (grp_drug, grp_route, level, term, period),
                            (registry_id, level, term, period), (level, term, period))
), terms AS (SELECT DISTINCT level, term FROM int_ae_terms),
-- A preferred term's label group when every event of the term is in it: then its patients and events
-- are some of the label group's, which the report protects as nested counts (reports.content).
in_group AS (
    SELECT pt AS term,
           CASE WHEN count(*) = count(label_group) AND count(DISTINCT label_group) = 1 THEN any_value(label_group) END AS in_label_group
    FROM int_ae WHERE treatment_emergent GROUP BY pt
)
SELECT d.registry_id, d.drug, d.route, t.level, t.term, d.period,
       d.patients_exposed, d.sessions, d.patient_years,
       coalesce(n.patients_with_event, 0) AS patients_with_event, coalesce(n.events, 0) AS events,
       coalesce(np.new_patients_with_event, 0) AS new_patients_with_event,
       greatest(d.patient_years - coalesce(x.py_excluded, 0), 0) AS py_at_risk,
       g.in_label_group
FROM denom d CROSS JOIN terms t
LEFT JOIN in_group g ON t.level = 'pt' AND g.term = t.term
LEFT JOIN num n ON n.registry_id = d.registry_id AND n.drug = d.drug AND n.route = d.route AND n.period = d.period
               AND n.level = t.level AND n.term = t.term
LEFT JOIN newp np ON np.registry_id = d.registry_id AND np.drug = d.drug AND np.route = d.route AND np.period = d.period
               AND np.level = t.level AND np.term = t.term
LEFT JOIN excl x ON x.registry_id = d.registry_id AND x.drug = d.drug AND x.route = d.route AND x.period = d.period
               AND x.level = t.level AND x.term = t.term
WHERE (d.drug = 'all') = (d.route = 'all');
