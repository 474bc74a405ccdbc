-- marts.session_safety: per registry x drug x route (treatment group) x domain x measure x period:
-- units_evaluable (sessions, or assessments for suicidality), units_flagged, patients_evaluable,
-- patients_flagged. marts.bp_excursions, marts.peri_dose, marts.rems_monitoring and
-- marts.suicidality are its slices. Intervals: reports.stats (Wilson; Clopper-Pearson for rare).
-- int_flags holds one wide row per patient and month; it is turned into one row per measure (where
-- the patient had evaluable units), and the cumulative period re-sums that per patient,
-- so each row below is one patient and a count of rows is a count of distinct patients (a patient
-- is in one treatment group and one registry).
CREATE OR REPLACE TABLE marts.session_safety AS
WITH long AS (
    SELECT registry_id, patient_key, grp_drug, grp_route, month, unnest([
        {'domain': 'blood_pressure', 'measure': 'SBP >= 180 after dose', 'units': bp_n, 'flagged': bp_sbp180},
        {'domain': 'blood_pressure', 'measure': 'DBP >= 110 after dose', 'units': bp_n, 'flagged': bp_dbp110},
        {'domain': 'blood_pressure', 'measure': 'SBP rise >= 40', 'units': bp_n, 'flagged': bp_sbp_rise},
        {'domain': 'blood_pressure', 'measure': 'DBP rise >= 25', 'units': bp_n, 'flagged': bp_dbp_rise},
        {'domain': 'blood_pressure', 'measure': 'Any notable BP rise', 'units': bp_n, 'flagged': bp_any},
        {'domain': 'blood_pressure', 'measure': 'Pre-dose BP > 140/90', 'units': pre_n, 'flagged': pre_high},
        {'domain': 'dissociation', 'measure': 'CADSS > 4 after dose', 'units': cadss_n, 'flagged': cadss_flag},
        {'domain': 'sedation', 'measure': 'MOAA/S <= 3 after dose', 'units': moaas_n, 'flagged': moaas_le3},
        {'domain': 'sedation', 'measure': 'MOAA/S = 0 (loss of consciousness)', 'units': moaas_n, 'flagged': moaas_0},
        {'domain': 'rems', 'measure': 'Esketamine monitoring < 120 min', 'units': rems_n, 'flagged': rems_short},
        {'domain': 'suicidality', 'measure': 'PHQ-9 item 9 >= 1', 'units': phq9_n, 'flagged': phq9_item9},
        {'domain': 'suicidality', 'measure': 'C-SSRS ideation >= 4', 'units': cssrs_n, 'flagged': cssrs_ge4}
    ]) AS m
    FROM int_flags
), pm AS (
    SELECT registry_id, patient_key, grp_drug, grp_route, month, m.domain AS domain, m.measure AS measure,
           m.units AS units, m.flagged AS flagged
    FROM long WHERE m.units > 0
), pp AS (
    SELECT registry_id, patient_key, grp_drug, grp_route, domain, measure, month AS period, units, flagged FROM pm
    WHERE getvariable('report_month') IS NULL OR month = getvariable('report_month')  -- a report's month only ('other': int_flags)
    UNION ALL
    SELECT registry_id, patient_key, grp_drug, grp_route, domain, measure, 'cumulative', sum(units), sum(flagged)
    FROM pm
    GROUP BY registry_id, patient_key, grp_drug, grp_route, domain, measure
)
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id,
       CASE WHEN grouping(grp_drug) = 1 THEN 'all' ELSE grp_drug END AS drug,
       CASE WHEN grouping(grp_route) = 1 THEN 'all' ELSE grp_route END AS route,
       domain, measure, period,
       sum(units)::BIGINT AS units_evaluable, sum(flagged)::BIGINT AS units_flagged,
       count(*) AS patients_evaluable,
       count(*) FILTER (WHERE flagged > 0) AS patients_flagged
FROM pp
GROUP BY GROUPING SETS ((registry_id, grp_drug, grp_route, domain, measure, period), (grp_drug, grp_route, domain, measure, period),
                        (registry_id, domain, measure, period), (domain, measure, period));

CREATE OR REPLACE TABLE marts.bp_excursions AS SELECT * FROM marts.session_safety WHERE domain = 'blood_pressure';
CREATE OR REPLACE TABLE marts.peri_dose AS SELECT * FROM marts.session_safety WHERE domain IN ('dissociation', 'sedation');
CREATE OR REPLACE TABLE marts.rems_monitoring AS SELECT * FROM marts.session_safety WHERE domain = 'rems';
CREATE OR REPLACE TABLE marts.suicidality AS SELECT * FROM marts.session_safety WHERE domain = 'suicidality';

-- Suicidality alerts raised at load (ops.alerts), by registry, rule and month raised.
CREATE OR REPLACE TABLE marts.suicidality_alerts AS
SELECT CASE WHEN grouping(registry_id) = 1 THEN 'all' ELSE registry_id END AS registry_id, rule, period, count(*) AS alerts
FROM (SELECT *, unnest([strftime(raised_at, '%Y-%m'), 'cumulative']) AS period FROM src_alerts
      WHERE lower(rule) LIKE '%suicid%' OR lower(rule) LIKE '%item9%' OR lower(rule) LIKE '%item_9%' OR lower(rule) LIKE '%cssrs%')
GROUP BY GROUPING SETS ((registry_id, rule, period), (rule, period));
