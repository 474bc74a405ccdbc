-- int_flags: one row per patient (pid) and month, with, for every measure below, how many units
-- (sessions, or assessments for suicidality) were evaluable (*_n) and how many were flagged. Thresholds (clinical-reference
-- 3.3, 1.2, contract):
--   blood_pressure: post SBP >= 180, post DBP >= 110 need a post-dose reading only (absolute
--     values, as the load's alerts); rise over pre >= 40 systolic, >= 25 diastolic, and any of
--     the four, need a pre-dose and a post-dose reading; pre-dose > 140/90 (warning).
--   dissociation: CADSS after dosing (minutes_after_dose > 0, or no minutes and not before the
--     session); present = max post total > 4 and above the pre-dose total when one exists.
--   sedation: MOAA/S after dosing; two definitions (clinical-reference 10.2, derive both):
--     moderate or greater = minimum <= 3 (responds only to loud voice or worse; J&J medical);
--     any decrease = minimum below the pre-dose score (label), the pre-dose score being the
--     highest MOAA/S at or before dosing, or 5 (alert) when none was recorded (our assumption:
--     the reference defines the decrease from pre-dose and gives no default);
--     loss of consciousness = 0.
--   rems: esketamine sessions with monitoring_minutes recorded; < 120 = REMS deviation; esketamine
--     sessions with a setting recorded; 'home' = REMS violation (self-administration at home).
--   respiratory: sessions with a post-dose SpO2; lowest < 92 % (clinical-reference, PROPOSED).
--   suicidality: PHQ-9 item 9 >= 1 (item_scores 9th value), C-SSRS ideation >= 4, on-treatment
--     assessments only (assessed at or after the patient's first session: a pre-dose baseline
--     screen is not a safety event of the treatment group).
--   alert_rules: the suicidality alerts raised at load by loaded rows (ops.alerts, suicidality_rule)
--     on the patient's PHQ-9 / C-SSRS assessments, one list entry per alert, in the month
--     of the assessment's own assessed_at (data time, not raised_at); pre-treatment assessments
--     and patients without a session included (pid NULL: one row per registry and month).
-- Why per patient-month and wide, not per unit and measure: marts.session_safety needs only counts
-- of units and whether a patient had any flagged unit, and a patient belongs to one treatment
-- group; one wide row per patient-month is ~40x smaller than one row per unit and measure (10M
-- rows at 10M assessments), so the build stays within its memory limit instead of spilling.
-- Each session is first reduced to one row (its vitals and peri-dose scores), then counted
-- column-wise. NULL counts (no such unit that month) mean 0.
-- For a report (variable report_month set) every other month is one bucket, 'other': the report shows
-- that month and cumulative only, and the cumulative sums are the same over fewer rows.
CREATE OR REPLACE TEMP TABLE int_flags AS
WITH per_session AS (
    -- Each session reduced to one row from its vitals and its peri-dose scores in one aggregate
    -- over both (one hash table and one join to int_sessions instead of two of each: ~0.3 s).
    -- Most scores carry minutes_after_dose, which alone says pre or post dose: those are reduced
    -- per session straight from the scan. Scores without it need their session's start: they are
    -- kept per session as a list (few or none) and compared with it in ses, so one scan of the
    -- peri-dose scores serves both (a join of every peri-dose score costs more than the
    -- aggregate itself, and a second scan of 10M assessments for the few without minutes ~0.15 s).
    SELECT registry_id, session_id,
           -- the earliest pre-dose reading, both pressures from it (as the load's alerts: pre_rank)
           arg_min(sbp, pre_key)
               FILTER (WHERE pre AND sbp IS NOT NULL AND dbp IS NOT NULL) AS pre_sbp,
           arg_min(dbp, pre_key)
               FILTER (WHERE pre AND sbp IS NOT NULL AND dbp IS NOT NULL) AS pre_dbp,
           max(sbp) FILTER (WHERE NOT pre) AS post_sbp, max(dbp) FILTER (WHERE NOT pre) AS post_dbp,
           min(spo2) FILTER (WHERE NOT pre) AS post_spo2_min,
           max(total_score) FILTER (WHERE instrument = 'CADSS' AND minutes_after_dose > 0) AS cadss_post_max,
           max(total_score) FILTER (WHERE instrument = 'CADSS' AND minutes_after_dose <= 0) AS cadss_pre_max,
           min(total_score) FILTER (WHERE instrument = 'MOAAS' AND minutes_after_dose > 0) AS moaas_post_min,
           max(total_score) FILTER (WHERE instrument = 'MOAAS' AND minutes_after_dose <= 0) AS moaas_pre_max,
           list({'instrument': instrument, 'score': total_score, 'assessed_at': assessed_at})
               FILTER (WHERE instrument IS NOT NULL AND minutes_after_dose IS NULL) AS unknown
    FROM (
        SELECT registry_id, session_id, timepoint = 'pre' AS pre, sbp, dbp, spo2, NULL::VARCHAR AS instrument,
               NULL::INTEGER AS total_score, minutes_after_dose, NULL::TIMESTAMPTZ AS assessed_at,
               -- pre_rank's order (macros.sql) as one integer: minutes (none last), then the line
               CASE WHEN timepoint = 'pre' THEN coalesce(least(minutes_after_dose, 1000000), 1000001)::BIGINT * 4294967296
                                                + coalesce(source_row, 0) END AS pre_key
        FROM src_vitals WHERE session_id IS NOT NULL
        UNION ALL
        SELECT registry_id, session_id, NULL, NULL, NULL, NULL, instrument, total_score, minutes_after_dose, assessed_at, NULL
        FROM src_assessments WHERE instrument IN ('CADSS', 'MOAAS') AND total_score IS NOT NULL
    )
    GROUP BY registry_id, session_id
), ses AS (
    SELECT s.pid, CASE WHEN getvariable('report_month') IS NULL OR s.month = getvariable('report_month') THEN s.month ELSE 'other' END AS month,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AS pre_ok,
           v.post_sbp IS NOT NULL AND v.post_dbp IS NOT NULL AS post_ok,
           v.pre_sbp IS NOT NULL AND v.pre_dbp IS NOT NULL AND v.post_sbp IS NOT NULL AND v.post_dbp IS NOT NULL AS bp_ok,
           v.pre_sbp, v.pre_dbp, v.post_sbp, v.post_dbp,
           -- greatest/least skip NULLs; a NULL assessed_at is neither before nor after the start
           greatest(v.cadss_post_max, list_max([x.score FOR x IN v.unknown
                                                 IF x.instrument = 'CADSS' AND x.assessed_at > s.session_start])) AS cadss_post_max,
           greatest(v.cadss_pre_max, list_max([x.score FOR x IN v.unknown
                                                IF x.instrument = 'CADSS' AND x.assessed_at <= s.session_start])) AS cadss_pre_max,
           least(v.moaas_post_min, list_min([x.score FOR x IN v.unknown
                                              IF x.instrument = 'MOAAS' AND x.assessed_at > s.session_start])) AS moaas_post_min,
           greatest(v.moaas_pre_max, list_max([x.score FOR x IN v.unknown
                                                IF x.instrument = 'MOAAS' AND x.assessed_at <= s.session_start])) AS moaas_pre_max,
           s.drug = 'esketamine' AND s.monitoring_minutes IS NOT NULL AS rems_ok, s.monitoring_minutes,
           s.drug = 'esketamine' AND s.has_setting AS setting_ok, s.at_home,
           v.post_spo2_min
    FROM int_sessions s
    LEFT JOIN per_session v USING (registry_id, session_id)
), pm AS (
    -- per pid and month; registry and group are the patient's (int_patients, joined below)
    SELECT pid, month,
           count(*) FILTER (WHERE post_ok) AS post_n,
           count(*) FILTER (WHERE post_ok AND post_sbp >= 180) AS bp_sbp180,
           count(*) FILTER (WHERE post_ok AND post_dbp >= 110) AS bp_dbp110,
           count(*) FILTER (WHERE bp_ok) AS bp_n,
           count(*) FILTER (WHERE bp_ok AND post_sbp - pre_sbp >= 40) AS bp_sbp_rise,
           count(*) FILTER (WHERE bp_ok AND post_dbp - pre_dbp >= 25) AS bp_dbp_rise,
           count(*) FILTER (WHERE bp_ok AND (post_sbp >= 180 OR post_dbp >= 110 OR post_sbp - pre_sbp >= 40 OR post_dbp - pre_dbp >= 25)) AS bp_any,
           count(*) FILTER (WHERE pre_ok) AS pre_n,
           count(*) FILTER (WHERE pre_ok AND (pre_sbp > 140 OR pre_dbp > 90)) AS pre_high,
           count(cadss_post_max) AS cadss_n,
           count(*) FILTER (WHERE cadss_post_max > 4 AND (cadss_pre_max IS NULL OR cadss_post_max > cadss_pre_max)) AS cadss_flag,
           count(moaas_post_min) AS moaas_n,
           count(*) FILTER (WHERE moaas_post_min <= 3) AS moaas_le3,
           count(*) FILTER (WHERE moaas_post_min < coalesce(moaas_pre_max, 5)) AS moaas_decr,
           count(*) FILTER (WHERE moaas_post_min = 0) AS moaas_0,
           count(*) FILTER (WHERE rems_ok) AS rems_n,
           count(*) FILTER (WHERE rems_ok AND monitoring_minutes < 120) AS rems_short,
           count(*) FILTER (WHERE setting_ok) AS home_n,
           count(*) FILTER (WHERE setting_ok AND at_home) AS home_flag,
           count(post_spo2_min) AS spo2_n,
           count(*) FILTER (WHERE post_spo2_min < 92) AS spo2_low
    FROM ses
    GROUP BY pid, month
 ), sal AS (
    -- suicidality alerts raised at load by loaded rows (few): one row per assessment, one list
    -- entry per alert (those of quarantined rows: marts.suicidality_alerts, dated by their export)
    SELECT registry_id, record_id AS assessment_id, list(rule) AS rules
    FROM src_alerts
    WHERE table_name = 'assessments' AND suicidality_rule(rule) AND NOT coalesce(quarantined, false)
    GROUP BY registry_id, record_id
), sui AS (
    -- one scan of the PHQ-9 / C-SSRS assessments, joined to the patient's first session (on
    -- treatment or not) and to the alerts raised on them, counted per pid and month (an integer
    -- key), then joined to the patient's group (a join of ~10x fewer rows than one per assessment);
    -- item 9 is parsed once per row
    SELECT a.pid, a.registry_id, p.grp_drug, p.grp_route, a.month, a.phq9_n, a.phq9_item9, a.cssrs_n, a.cssrs_ge4,
           a.alert_rules
    FROM (
        SELECT x.registry_id, k.pid,
               CASE WHEN getvariable('report_month') IS NULL OR utc_month(x.assessed_at) = getvariable('report_month') THEN utc_month(x.assessed_at) ELSE 'other' END AS month,
               count(*) FILTER (WHERE x.assessed_at >= k.first_start AND x.instrument = 'PHQ9' AND x.item9 IS NOT NULL) AS phq9_n,
               count(*) FILTER (WHERE x.assessed_at >= k.first_start AND x.instrument = 'PHQ9' AND x.item9 >= 1) AS phq9_item9,
               count(*) FILTER (WHERE x.assessed_at >= k.first_start AND x.instrument = 'CSSRS_IDEATION' AND x.total_score IS NOT NULL) AS cssrs_n,
               count(*) FILTER (WHERE x.assessed_at >= k.first_start AND x.instrument = 'CSSRS_IDEATION' AND x.total_score >= 4) AS cssrs_ge4,
               flatten(list(al.rules) FILTER (WHERE al.rules IS NOT NULL)) AS alert_rules
        FROM (SELECT registry_id, patient_key, assessment_id, assessed_at, instrument, total_score,
                     CASE WHEN instrument = 'PHQ9' THEN TRY_CAST(split_part(item_scores, ';', 9) AS INTEGER) END AS item9
              FROM src_assessments WHERE instrument IN ('PHQ9', 'CSSRS_IDEATION')) x
        LEFT JOIN (SELECT registry_id, patient_key, pid, first_start FROM int_patients) k USING (registry_id, patient_key)
        LEFT JOIN sal al USING (registry_id, assessment_id)
        WHERE (x.instrument = 'PHQ9' AND x.item9 IS NOT NULL) OR (x.instrument = 'CSSRS_IDEATION' AND x.total_score IS NOT NULL)
              OR al.rules IS NOT NULL
        GROUP BY x.registry_id, k.pid, 3
    ) a
    LEFT JOIN int_patients p USING (pid)
)
SELECT * FROM (SELECT p.pid, p.registry_id, p.grp_drug, p.grp_route, pm.* EXCLUDE (pid) FROM pm JOIN int_patients p USING (pid))
FULL JOIN sui USING (pid, registry_id, grp_drug, grp_route, month);
