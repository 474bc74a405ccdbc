-- raw_vitals -> stg_vitals, with the session's pre-dose pressure so rises can be measured.
CREATE OR REPLACE TEMP TABLE stg_vitals AS
WITH typed AS (
    SELECT r._line,
           txt(r.session_id)                          AS session_id,
           lower(txt(r.timepoint))                    AS timepoint,
           as_int(r.minutes_after_dose)               AS minutes_after_dose,
           unparsed(r.minutes_after_dose, as_int(r.minutes_after_dose)) AS minutes_after_dose__unparsed,
           as_int(r.sbp)                              AS sbp,
           unparsed(r.sbp, as_int(r.sbp))             AS sbp__unparsed,
           as_int(r.dbp)                              AS dbp,
           unparsed(r.dbp, as_int(r.dbp))             AS dbp__unparsed,
           as_int(r.heart_rate)                       AS heart_rate,
           unparsed(r.heart_rate, as_int(r.heart_rate)) AS heart_rate__unparsed,
           as_int(r.spo2)                             AS spo2,
           unparsed(r.spo2, as_int(r.spo2))           AS spo2__unparsed
    FROM raw_vitals r
),
pre AS (  -- one pre-dose reading per session: this export's first, else the warehouse's
    SELECT session_id, arg_min(sbp, _line) AS sbp, arg_min(dbp, _line) AS dbp
    FROM typed WHERE timepoint = 'pre' AND sbp IS NOT NULL AND dbp IS NOT NULL
    GROUP BY session_id
)
SELECT t.*,
       (s.session_id IS NOT NULL)                                AS _session_exists,
       s.patient_key                                             AS _patient_key,
       CASE WHEN t.timepoint <> 'pre' THEN t.sbp - coalesce(pre.sbp, s.pre_sbp) END AS _sbp_rise,
       CASE WHEN t.timepoint <> 'pre' THEN t.dbp - coalesce(pre.dbp, s.pre_dbp) END AS _dbp_rise,
       CASE WHEN t.session_id IS NOT NULL AND t.timepoint IS NOT NULL THEN count(*) OVER (PARTITION BY t.session_id, t.timepoint, t.minutes_after_dose) END AS _key_count
FROM typed t
LEFT JOIN ctx_sessions s ON s.session_id = t.session_id
LEFT JOIN pre ON pre.session_id = t.session_id;
