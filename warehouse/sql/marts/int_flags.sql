-- int_flags: one row per evaluable unit (a session or an assessment) and measure, with whether it
-- is flagged. Thresholds (clinical-reference 3.3, 1.2, contract):
--   blood_pressure: pre and a post-dose reading needed; post SBP >= 180, post DBP >= 110,
--     rise over pre >= 40 systolic, >= 25 diastolic; any of these; pre-dose > 140/90 (warning).
--   dissociation: CADSS after dosing (minutes_after_dose > 0, or no minutes and not before the
--     session); present = max post total > 4 and above the pre-dose total when one exists.
--   sedation: MOAA/S after dosing, minimum <= 3 (responds only to loud voice or worse);
--     loss of consciousness = 0.
--   rems: esketamine sessions with monitoring_minutes recorded; < 120 = REMS deviation.
--   suicidality: PHQ-9 item 9 >= 1 (item_scores 9th value), C-SSRS ideation >= 4.
CREATE OR REPLACE TEMP TABLE int_flags AS
WITH v AS (
    SELECT s.registry_id, s.patient_key, s.session_id, s.grp_drug, s.grp_route, s.month,
           max(v.sbp) FILTER (WHERE v.timepoint = 'pre') AS pre_sbp, max(v.dbp) FILTER (WHERE v.timepoint = 'pre') AS pre_dbp,
           max(v.sbp) FILTER (WHERE v.timepoint <> 'pre') AS post_sbp, max(v.dbp) FILTER (WHERE v.timepoint <> 'pre') AS post_dbp
    FROM int_sessions s JOIN src_vitals v USING (registry_id, session_id)
    GROUP BY ALL
), bp AS (
    SELECT *, unnest([
        {'measure': 'SBP >= 180 after dose', 'flag': post_sbp >= 180},
        {'measure': 'DBP >= 110 after dose', 'flag': post_dbp >= 110},
        {'measure': 'SBP rise >= 40', 'flag': post_sbp - pre_sbp >= 40},
        {'measure': 'DBP rise >= 25', 'flag': post_dbp - pre_dbp >= 25},
        {'measure': 'Any notable BP rise', 'flag': post_sbp >= 180 OR post_dbp >= 110 OR post_sbp - pre_sbp >= 40 OR post_dbp - pre_dbp >= 25}
    ]) AS m
    FROM v WHERE pre_sbp IS NOT NULL AND pre_dbp IS NOT NULL AND post_sbp IS NOT NULL AND post_dbp IS NOT NULL
), peri AS (
    SELECT s.registry_id, s.patient_key, s.session_id, s.grp_drug, s.grp_route, s.month, a.instrument,
           max(a.total_score) FILTER (WHERE a.minutes_after_dose > 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at > s.session_start)) AS post_max,
           min(a.total_score) FILTER (WHERE a.minutes_after_dose > 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at > s.session_start)) AS post_min,
           max(a.total_score) FILTER (WHERE a.minutes_after_dose <= 0 OR (a.minutes_after_dose IS NULL AND a.assessed_at <= s.session_start)) AS pre_max
    FROM int_sessions s JOIN src_assessments a USING (registry_id, session_id)
    WHERE a.instrument IN ('CADSS', 'MOAAS') AND a.total_score IS NOT NULL
    GROUP BY ALL
)
SELECT registry_id, patient_key, session_id AS unit_id, grp_drug, grp_route, month, 'blood_pressure' AS domain,
       m.measure AS measure, coalesce(m.flag, false) AS flagged
FROM bp
UNION ALL
SELECT registry_id, patient_key, session_id, grp_drug, grp_route, month, 'blood_pressure', 'Pre-dose BP > 140/90',
       pre_sbp > 140 OR pre_dbp > 90
FROM v WHERE pre_sbp IS NOT NULL AND pre_dbp IS NOT NULL
UNION ALL
SELECT registry_id, patient_key, session_id, grp_drug, grp_route, month, 'dissociation', 'CADSS > 4 after dose',
       post_max > 4 AND (pre_max IS NULL OR post_max > pre_max)
FROM peri WHERE instrument = 'CADSS' AND post_max IS NOT NULL
UNION ALL
SELECT registry_id, patient_key, session_id, grp_drug, grp_route, month, 'sedation', 'MOAA/S <= 3 after dose', post_min <= 3
FROM peri WHERE instrument = 'MOAAS' AND post_min IS NOT NULL
UNION ALL
SELECT registry_id, patient_key, session_id, grp_drug, grp_route, month, 'sedation', 'MOAA/S = 0 (loss of consciousness)', post_min = 0
FROM peri WHERE instrument = 'MOAAS' AND post_min IS NOT NULL
UNION ALL
SELECT registry_id, patient_key, session_id, grp_drug, grp_route, month, 'rems', 'Esketamine monitoring < 120 min',
       monitoring_minutes < 120
FROM int_sessions WHERE drug = 'esketamine' AND monitoring_minutes IS NOT NULL
UNION ALL
SELECT a.registry_id, a.patient_key, a.assessment_id, p.grp_drug, p.grp_route, strftime(a.assessed_at, '%Y-%m'),
       'suicidality', 'PHQ-9 item 9 >= 1', TRY_CAST(split_part(a.item_scores, ';', 9) AS INTEGER) >= 1
FROM src_assessments a JOIN int_patients p USING (registry_id, patient_key)
WHERE a.instrument = 'PHQ9' AND TRY_CAST(split_part(a.item_scores, ';', 9) AS INTEGER) IS NOT NULL
UNION ALL
SELECT a.registry_id, a.patient_key, a.assessment_id, p.grp_drug, p.grp_route, strftime(a.assessed_at, '%Y-%m'),
       'suicidality', 'C-SSRS ideation >= 4', a.total_score >= 4
FROM src_assessments a JOIN int_patients p USING (registry_id, patient_key)
WHERE a.instrument = 'CSSRS_IDEATION' AND a.total_score IS NOT NULL;
