-- int_flags: per patient, month, domain and measure: how many units (sessions, or assessments for
-- suicidality) were evaluable and how many of them were flagged. Thresholds (clinical-reference
-- 3.3, 1.2, contract):
--   blood_pressure: pre and a post-dose reading needed; post SBP >= 180, post DBP >= 110,
--     rise over pre >= 40 systolic, >= 25 diastolic; any of these; pre-dose > 140/90 (warning).
--   dissociation: CADSS after dosing (minutes_after_dose > 0, or no minutes and not before the
--     session); present = max post total > 4 and above the pre-dose total when one exists.
--   sedation: MOAA/S after dosing, minimum <= 3 (responds only to loud voice or worse);
--     loss of consciousness = 0.
--   rems: esketamine sessions with monitoring_minutes recorded; < 120 = REMS deviation.
--   suicidality: PHQ-9 item 9 >= 1 (item_scores 9th value), C-SSRS ideation >= 4.
-- Why per patient-month and not per unit: every mart above it needs only counts of units and
-- whether a patient had any flagged unit, and a patient belongs to one treatment group, so
-- counting here keeps the table ~20x smaller than one row per unit and measure. Each session is
-- first reduced to one row (its vitals and peri-dose scores), then counted column-wise.
CREATE OR REPLACE TEMP TABLE int_flags AS
WITH vit AS (
    SELECT registry_id, session_id,
           max(sbp) FILTER (WHERE timepoint = 'pre') AS pre_sbp, max(dbp) FILTER (WHERE timepoint = 'pre') AS pre_dbp,
           max(sbp) FILTER (WHERE timepoint <> 'pre') AS post_sbp, max(dbp) FILTER (WHERE timepoint <> 'pre') AS post_dbp
    FROM src_vitals
    WHERE session_id IS NOT NULL
    GROUP BY registry_id, session_id
), peri AS (
    SELECT a.registry_id, a.session_id,
           max(a.total_score) FILTER (WHERE a.instrument = 'CADSS' AND (a.minutes_after_dose > 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at > s.session_start))) AS cadss_post_max,
           max(a.total_score) FILTER (WHERE a.instrument = 'CADSS' AND (a.minutes_after_dose <= 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at <= s.session_start))) AS cadss_pre_max,
           min(a.total_score) FILTER (WHERE a.instrument = 'MOAAS' AND (a.minutes_after_dose > 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at > s.session_start))) AS moaas_post_min
    FROM src_assessments a
    JOIN (SELECT registry_id, session_id, session_start FROM int_sessions) s USING (registry_id, session_id)
    WHERE a.instrument IN ('CADSS', 'MOAAS') AND a.total_score IS NOT NULL
    GROUP BY a.registry_id, a.session_id
), ses AS (
    SELECT s.registry_id, s.patient_key, s.grp_drug, s.grp_route, s.month,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AS pre_ok,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AND v.post_sbp IS NOT NULL AND v.post_dbp IS NOT NULL AS bp_ok,
           v.pre_sbp, v.pre_dbp, v.post_sbp, v.post_dbp, p.cadss_post_max, p.cadss_pre_max, p.moaas_post_min,
           s.drug = 'esketamine' AND s.monitoring_minutes IS NOT NULL AS rems_ok, s.monitoring_minutes
    FROM int_sessions s
    LEFT JOIN vit v USING (registry_id, session_id)
    LEFT JOIN peri p USING (registry_id, session_id)
), pm AS (
    SELECT registry_id, patient_key, grp_drug, grp_route, month,
           count(*) FILTER (WHERE bp_ok) AS bp_n,
           count(*) FILTER (WHERE bp_ok AND post_sbp >= 180) AS bp_sbp180,
           count(*) FILTER (WHERE bp_ok AND post_dbp >= 110) AS bp_dbp110,
           count(*) FILTER (WHERE bp_ok AND post_sbp - pre_sbp >= 40) AS bp_sbp_rise,
           count(*) FILTER (WHERE bp_ok AND post_dbp - pre_dbp >= 25) AS bp_dbp_rise,
           count(*) FILTER (WHERE bp_ok AND (post_sbp >= 180 OR post_dbp >= 110 OR post_sbp - pre_sbp >= 40 OR post_dbp - pre_dbp >= 25)) AS bp_any,
           count(*) FILTER (WHERE pre_ok) AS pre_n,
           count(*) FILTER (WHERE pre_ok AND (pre_sbp > 140 OR pre_dbp > 90)) AS pre_high,
           count(cadss_post_max) AS cadss_n,
           count(*) FILTER (WHERE cadss_post_max > 4 AND (cadss_pre_max IS NULL OR cadss_post_max > cadss_pre_max)) AS cadss_flag,
           count(moaas_post_min) AS moaas_n,
           count(*) FILTER (WHERE moaas_post_min <= 3) AS moaas_le3,
           count(*) FILTER (WHERE moaas_post_min = 0) AS moaas_0,
           count(*) FILTER (WHERE rems_ok) AS rems_n,
           count(*) FILTER (WHERE rems_ok AND monitoring_minutes < 120) AS rems_short
    FROM ses
    GROUP BY registry_id, patient_key, grp_drug, grp_route, month
), long AS (
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
        {'domain': 'rems', 'measure': 'Esketamine monitoring < 120 min', 'units': rems_n, 'flagged': rems_short}
    ]) AS m
    FROM pm
)
SELECT registry_id, patient_key, grp_drug, grp_route, month, m.domain AS domain, m.measure AS measure,
       m.units AS units, m.flagged AS flagged
FROM long WHERE m.units > 0
UNION ALL
SELECT a.registry_id, a.patient_key, p.grp_drug, p.grp_route, strftime(a.assessed_at, '%Y-%m') AS month, 'suicidality',
       CASE a.instrument WHEN 'PHQ9' THEN 'PHQ-9 item 9 >= 1' ELSE 'C-SSRS ideation >= 4' END,
       count(*),
       count(*) FILTER (WHERE CASE a.instrument WHEN 'PHQ9' THEN TRY_CAST(split_part(a.item_scores, ';', 9) AS INTEGER) >= 1
                                               ELSE a.total_score >= 4 END)
FROM src_assessments a JOIN int_patients p USING (registry_id, patient_key)
WHERE (a.instrument = 'PHQ9' AND TRY_CAST(split_part(a.item_scores, ';', 9) AS INTEGER) IS NOT NULL)
   OR (a.instrument = 'CSSRS_IDEATION' AND a.total_score IS NOT NULL)
GROUP BY ALL;
