-- marts.session_safety: per registry x drug x route (treatment group) x domain x measure x period:
-- units_evaluable (sessions, or assessments for suicidality), units_flagged, patients_evaluable,
-- patients_flagged. evaluable_on names what makes a unit evaluable for the measure (the units column
-- below): measures with the same evaluable_on have the same units and patients evaluable (the two
-- absolute post-dose BP measures, the three rise measures, the three MOAA/S ones), which the report
-- shows as one number. marts.bp_excursions, marts.peri_dose, marts.rems_monitoring and
-- marts.suicidality are its slices. Intervals: reports.stats (Wilson; Clopper-Pearson for rare).
-- int_flags holds one wide row per patient (pid) and month; with a cumulative row per patient it is
-- turned into one row per measure (where the patient had evaluable units), so each row below is
-- one patient and a count of rows is a count of distinct patients (a patient is in one treatment
-- group and one registry).
CREATE OR REPLACE TABLE marts.session_safety AS
WITH wide AS (
    -- per patient: the report's month (every month in a rebuild; 'other' in int_flags is never a
    -- period) and the cumulative sums, still wide, so the cumulative period is one sum per patient
    -- over ~1.5 rows instead of a group by patient and measure over ~2M unnested rows. The sums equal
    -- those over the months where the measure had units: a unit flagged is a unit evaluable.
    SELECT pid, registry_id, grp_drug, grp_route, month AS period,
           post_n, bp_n, bp_sbp180, bp_dbp110, bp_sbp_rise, bp_dbp_rise, bp_any, pre_n, pre_high,
           cadss_n, cadss_flag, moaas_n, moaas_le3, moaas_decr, moaas_0, rems_n, rems_short, phq9_n,
           phq9_item9, cssrs_n, cssrs_ge4, home_n, home_flag, spo2_n, spo2_low
    FROM int_flags
    WHERE getvariable('report_month') IS NULL OR month = getvariable('report_month')
    UNION ALL
    SELECT pid, any_value(registry_id), any_value(grp_drug), any_value(grp_route), 'cumulative',
           sum(post_n), sum(bp_n), sum(bp_sbp180), sum(bp_dbp110), sum(bp_sbp_rise), sum(bp_dbp_rise), sum(bp_any),
           sum(pre_n), sum(pre_high), sum(cadss_n), sum(cadss_flag), sum(moaas_n), sum(moaas_le3), sum(moaas_decr),
           sum(moaas_0), sum(rems_n), sum(rems_short), sum(phq9_n), sum(phq9_item9), sum(cssrs_n),
           sum(cssrs_ge4), sum(home_n), sum(home_flag), sum(spo2_n), sum(spo2_low)
    FROM int_flags
    -- registry and group are the patient's (pid); registry too because int_flags' alert-only rows
    -- of patients without a session have no pid (and no units: they never reach pp)
    GROUP BY pid, registry_id
), long AS (
    SELECT pid, registry_id, grp_drug, grp_route, period, unnest([
        {'domain': 'blood_pressure', 'measure': 'SBP >= 180 after dose', 'units': post_n, 'evaluable_on': 'post-dose BP', 'flagged': bp_sbp180},
        {'domain': 'blood_pressure', 'measure': 'DBP >= 110 after dose', 'units': post_n, 'evaluable_on': 'post-dose BP', 'flagged': bp_dbp110},
        {'domain': 'blood_pressure', 'measure': 'SBP rise >= 40', 'units': bp_n, 'evaluable_on': 'pre- and post-dose BP', 'flagged': bp_sbp_rise},
        {'domain': 'blood_pressure', 'measure': 'DBP rise >= 25', 'units': bp_n, 'evaluable_on': 'pre- and post-dose BP', 'flagged': bp_dbp_rise},
        {'domain': 'blood_pressure', 'measure': 'Any notable BP rise', 'units': bp_n, 'evaluable_on': 'pre- and post-dose BP', 'flagged': bp_any},
        {'domain': 'blood_pressure', 'measure': 'Pre-dose BP > 140/90', 'units': pre_n, 'evaluable_on': 'pre-dose BP', 'flagged': pre_high},
        {'domain': 'dissociation', 'measure': 'CADSS > 4 after dose', 'units': cadss_n, 'evaluable_on': 'CADSS', 'flagged': cadss_flag},
        {'domain': 'sedation', 'measure': 'MOAA/S <= 3 after dose (moderate or greater)', 'units': moaas_n, 'evaluable_on': 'MOAA/S', 'flagged': moaas_le3},
        {'domain': 'sedation', 'measure': 'MOAA/S below pre-dose after dose (any decrease; 5 if none recorded)', 'units': moaas_n, 'evaluable_on': 'MOAA/S', 'flagged': moaas_decr},
        {'domain': 'sedation', 'measure': 'MOAA/S = 0 (loss of consciousness)', 'units': moaas_n, 'evaluable_on': 'MOAA/S', 'flagged': moaas_0},
        {'domain': 'rems', 'measure': 'Esketamine monitoring < 120 min', 'units': rems_n, 'evaluable_on': 'REMS monitoring', 'flagged': rems_short},
        {'domain': 'rems', 'measure': 'Esketamine at home (REMS violation)', 'units': home_n, 'evaluable_on': 'REMS setting', 'flagged': home_flag},
        {'domain': 'respiratory', 'measure': 'SpO2 < 92 % after dose', 'units': spo2_n, 'evaluable_on': 'SpO2', 'flagged': spo2_low},
        {'domain': 'suicidality', 'measure': 'PHQ-9 item 9 >= 1', 'units': phq9_n, 'evaluable_on': 'PHQ-9', 'flagged': phq9_item9},
        {'domain': 'suicidality', 'measure': 'C-SSRS ideation >= 4', 'units': cssrs_n, 'evaluable_on': 'C-SSRS', 'flagged': cssrs_ge4}
    ]) AS m
    FROM wide
), pp AS (
    SELECT pid, registry_id, grp_drug, grp_route, period, m.domain AS domain, m.measure AS measure,
           m.evaluable_on AS evaluable_on, m.units AS units, m.flagged AS flagged
    FROM long WHERE m.units > 0
)
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
       CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
       domain, measure, evaluable_on, period,
       sum(units)::BIGINT AS units_evaluable, sum(flagged)::BIGINT AS units_flagged,
       count(*) AS patients_evaluable,
       count(*) FILTER (WHERE flagged > 0) AS patients_flagged
FROM pp
GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, domain, measure, evaluable_on, period),
                        (grp_drug, grp_route, domain, measure, evaluable_on, period),
                        (registry_id, domain, measure, evaluable_on, period), (domain, measure, evaluable_on, period));

CREATE OR REPLACE TABLE marts.bp_excursions AS SELECT * FROM marts.session_safety WHERE domain = 'blood_pressure';
CREATE OR REPLACE TABLE marts.peri_dose AS SELECT * FROM marts.session_safety WHERE domain IN ('dissociation', 'sedation', 'respiratory');
CREATE OR REPLACE TABLE marts.rems_monitoring AS SELECT * FROM marts.session_safety WHERE domain = 'rems';
CREATE OR REPLACE TABLE marts.suicidality AS SELECT * FROM marts.session_safety WHERE domain = 'suicidality';

-- Suicidality alerts raised at load (ops.alerts), by registry, rule and data month: the month of the
-- assessment each alert was raised on (int_flags.alert_rules), not the wall-clock month it was raised,
-- so the month's closing export (loaded after the month ended) counts in its month and the cutoff
-- is the same as for every record. An alert raised by a row that went to quarantine (a PHQ-9 whose
-- items do not add up, item 9 >= 1) was escalated all the same and counts, dated by the export that
-- carried it (no loaded row dates it; its raw assessed_at may be what was wrong). Alerts on a record
-- since withdrawn (or dated after the cutoff) are not counted.
CREATE OR REPLACE TABLE marts.suicidality_alerts AS
WITH a AS (
    SELECT registry_id, month, unnest(alert_rules) AS rule FROM int_flags WHERE len(alert_rules) > 0
    UNION ALL
    SELECT a.registry_id,
           CASE WHEN getvariable('report_month') IS NULL OR utc_month(l.data_at) = getvariable('report_month')
                THEN utc_month(l.data_at) ELSE 'other' END,
           a.rule
    FROM src_alerts a JOIN src_loads l ON l.load_id = a.load_id  -- src_loads: up to the cutoff
    WHERE a.quarantined AND a.table_name = 'assessments' AND suicidality_rule(a.rule)
)
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id, rule, period, count(*) AS alerts
FROM (SELECT registry_id, rule, unnest([month, 'cumulative']) AS period FROM a)
WHERE period IS NOT NULL AND period <> 'other'
GROUP BY GROUPING SETS ((registry_id, rule, period), (rule, period));
