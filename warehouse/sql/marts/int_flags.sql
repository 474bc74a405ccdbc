-- int_flags: one row per patient and month, with, for every measure below, how many units
-- (sessions, or assessments for suicidality) were evaluable (*_n) and how many were flagged. Thresholds (clinical-reference
-- 3.3, 1.2, contract):
--   blood_pressure: pre and a post-dose reading needed; post SBP >= 180, post DBP >= 110,
--     rise over pre >= 40 systolic, >= 25 diastolic; any of these; pre-dose > 140/90 (warning).
--   dissociation: CADSS after dosing (minutes_after_dose > 0, or no minutes and not before the
--     session); present = max post total > 4 and above the pre-dose total when one exists.
--   sedation: MOAA/S after dosing, minimum <= 3 (responds only to loud voice or worse);
--     loss of consciousness = 0.
--   rems: esketamine sessions with monitoring_minutes recorded; < 120 = REMS deviation.
--   suicidality: PHQ-9 item 9 >= 1 (item_scores 9th value), C-SSRS ideation >= 4.
-- Why per patient-month and wide, not per unit and measure: marts.session_safety needs only counts
-- of units and whether a patient had any flagged unit, and a patient belongs to one treatment
-- group; one wide row per patient-month is ~40x smaller than one row per unit and measure (10M
-- rows at 10M assessments), so the build stays within its memory limit instead of spilling.
-- Each session is first reduced to one row (its vitals and peri-dose scores), then counted
-- column-wise. NULL counts (no such unit that month) mean 0.
-- For a report (variable report_month set) every other month is one bucket, 'other': the report shows
-- that month and cumulative only, and the cumulative sums are the same over fewer rows.
CREATE OR REPLACE TEMP TABLE int_flags AS
WITH vit AS (
    SELECT registry_id, session_id,
           max(sbp) FILTER (WHERE timepoint = 'pre') AS pre_sbp, max(dbp) FILTER (WHERE timepoint = 'pre') AS pre_dbp,
           max(sbp) FILTER (WHERE timepoint <> 'pre') AS post_sbp, max(dbp) FILTER (WHERE timepoint <> 'pre') AS post_dbp
    FROM src_vitals
    WHERE session_id IS NOT NULL
    GROUP BY registry_id, session_id
), peri_known AS (
    -- Most scores carry minutes_after_dose, which alone says pre or post dose: those are reduced
    -- per session straight from the scan; only scores without it are joined to their session's
    -- start (a join of every peri-dose score costs more than the aggregate itself). The two parts
    -- are combined per session in ses with greatest/least (which skip NULLs), not re-aggregated.
    SELECT registry_id, session_id,
           max(total_score) FILTER (WHERE instrument = 'CADSS' AND minutes_after_dose > 0) AS cadss_post_max,
           max(total_score) FILTER (WHERE instrument = 'CADSS' AND minutes_after_dose <= 0) AS cadss_pre_max,
           min(total_score) FILTER (WHERE instrument = 'MOAAS' AND minutes_after_dose > 0) AS moaas_post_min
    FROM src_assessments
    WHERE instrument IN ('CADSS', 'MOAAS') AND total_score IS NOT NULL AND minutes_after_dose IS NOT NULL
    GROUP BY registry_id, session_id
), peri_unknown AS (
    SELECT a.registry_id, a.session_id,
           max(a.total_score) FILTER (WHERE a.instrument = 'CADSS' AND a.assessed_at > s.session_start) AS cadss_post_max,
           max(a.total_score) FILTER (WHERE a.instrument = 'CADSS' AND a.assessed_at <= s.session_start) AS cadss_pre_max,
           min(a.total_score) FILTER (WHERE a.instrument = 'MOAAS' AND a.assessed_at > s.session_start) AS moaas_post_min
    FROM src_assessments a
    JOIN (SELECT registry_id, session_id, session_start FROM int_sessions) s USING (registry_id, session_id)
    WHERE a.instrument IN ('CADSS', 'MOAAS') AND a.total_score IS NOT NULL AND a.minutes_after_dose IS NULL
    GROUP BY a.registry_id, a.session_id
), ses AS (
    SELECT s.registry_id, s.patient_key, s.grp_drug, s.grp_route, CASE WHEN getvariable('report_month') IS NULL OR s.month = getvariable('report_month') THEN s.month ELSE 'other' END AS month,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AS pre_ok,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AND v.post_sbp IS NOT NULL AND v.post_dbp IS NOT NULL AS bp_ok,
           v.pre_sbp, v.pre_dbp, v.post_sbp, v.post_dbp,
           greatest(pk.cadss_post_max, pu.cadss_post_max) AS cadss_post_max,
           greatest(pk.cadss_pre_max, pu.cadss_pre_max) AS cadss_pre_max,
           least(pk.moaas_post_min, pu.moaas_post_min) AS moaas_post_min,
           s.drug = 'esketamine' AND s.monitoring_minutes IS NOT NULL AS rems_ok, s.monitoring_minutes
    FROM int_sessions s
    LEFT JOIN vit v USING (registry_id, session_id)
    LEFT JOIN peri_known pk USING (registry_id, session_id)
    LEFT JOIN peri_unknown pu USING (registry_id, session_id)
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
), sui AS (
    -- counted per patient and month first, then joined to the patient's group (a join of ~10x
    -- fewer rows than one per assessment); item 9 is parsed once per row
    SELECT a.registry_id, a.patient_key, p.grp_drug, p.grp_route, a.month, a.phq9_n, a.phq9_item9, a.cssrs_n, a.cssrs_ge4
    FROM (
        SELECT registry_id, patient_key,
               CASE WHEN getvariable('report_month') IS NULL OR utc_month(assessed_at) = getvariable('report_month') THEN utc_month(assessed_at) ELSE 'other' END AS month,
               count(*) FILTER (WHERE instrument = 'PHQ9') AS phq9_n,
               count(*) FILTER (WHERE instrument = 'PHQ9' AND item9 >= 1) AS phq9_item9,
               count(*) FILTER (WHERE instrument = 'CSSRS_IDEATION') AS cssrs_n,
               count(*) FILTER (WHERE instrument = 'CSSRS_IDEATION' AND total_score >= 4) AS cssrs_ge4
        FROM (SELECT registry_id, patient_key, assessed_at, instrument, total_score,
                     CASE WHEN instrument = 'PHQ9' THEN TRY_CAST(split_part(item_scores, ';', 9) AS INTEGER) END AS item9
              FROM src_assessments WHERE instrument IN ('PHQ9', 'CSSRS_IDEATION'))
        WHERE (instrument = 'PHQ9' AND item9 IS NOT NULL) OR (instrument = 'CSSRS_IDEATION' AND total_score IS NOT NULL)
        GROUP BY registry_id, patient_key, 3
    ) a
    JOIN int_patients p USING (registry_id, patient_key)
)
SELECT * FROM pm
FULL JOIN sui USING (registry_id, patient_key, grp_drug, grp_route, month);
