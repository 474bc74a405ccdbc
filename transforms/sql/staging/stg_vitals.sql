-- raw_vitals -> stg_vitals, with the session's pre-dose pressure so rises can be measured.
CREATE OR REPLACE TEMP TABLE stg_vitals AS
WITH typed AS (
    SELECT r._line,
           txt(r.session_id)                          AS session_id,
           lower(txt(r.timepoint))                    AS timepoint,
           as_int(r.minutes_after_dose)               AS minutes_after_dose,
           r.minutes_after_dose AS minutes_after_dose__raw,
           as_int(r.sbp)                              AS sbp,
           r.sbp AS sbp__raw,
           as_int(r.dbp)                              AS dbp,
           r.dbp AS dbp__raw,
           as_int(r.heart_rate)                       AS heart_rate,
           r.heart_rate AS heart_rate__raw,
           as_int(r.spo2)                             AS spo2,
           r.spo2 AS spo2__raw
    FROM raw_vitals r
),
pre AS (  -- one pre-dose reading per session: this export's, else the warehouse's; of several, the
          -- earliest (lowest minutes_after_dose, none last; then the first line),
          -- both pressures from that row: the marts (int_flags) take the same reading
    SELECT session_id, arg_min(sbp, pre_rank(minutes_after_dose, _line)) AS sbp,
           arg_min(dbp, pre_rank(minutes_after_dose, _line)) AS dbp
    FROM typed WHERE timepoint = 'pre' AND sbp IS NOT NULL AND dbp IS NOT NULL
    GROUP BY session_id
)
SELECT t.* EXCLUDE (minutes_after_dose__raw, sbp__raw, dbp__raw, heart_rate__raw, spo2__raw),
       unparsed(t.minutes_after_dose__raw, t.minutes_after_dose) AS minutes_after_dose__unparsed,
       unparsed(t.sbp__raw, t.sbp) AS sbp__unparsed,
       unparsed(t.dbp__raw, t.dbp) AS dbp__unparsed,
       unparsed(t.heart_rate__raw, t.heart_rate) AS heart_rate__unparsed,
       unparsed(t.spo2__raw, t.spo2) AS spo2__unparsed,
       (s.session_id IS NOT NULL)                                AS _session_exists,
       CASE WHEN t.timepoint <> 'pre' THEN t.sbp - coalesce(pre.sbp, s.pre_sbp) END AS _sbp_rise,
       CASE WHEN t.timepoint <> 'pre' THEN t.dbp - coalesce(pre.dbp, s.pre_dbp) END AS _dbp_rise,
       CASE WHEN t.session_id IS NOT NULL AND t.timepoint IS NOT NULL THEN coalesce(dup._n, 1) END AS _key_count
FROM typed t
LEFT JOIN ctx_sessions s ON s.session_id = t.session_id
LEFT JOIN pre ON pre.session_id = t.session_id
-- duplicate keys: dup_vitals (staging/duplicates.sql)
LEFT JOIN dup_vitals dup
       ON dup.session_id IS NOT DISTINCT FROM t.session_id AND dup.timepoint IS NOT DISTINCT FROM t.timepoint AND dup.minutes_after_dose IS NOT DISTINCT FROM t.minutes_after_dose;
