-- int_patients: one row per treated patient: group (drug and route of the first session),
-- first and last session (wall clock; first_instant: the first dose's instant, for elapsed time),
-- exposure, regimen.
-- pid: the patient's integer id (int_sessions), what the models count and join patients by;
-- registry_id and patient_key are here to join records that carry only those (assessments, AEs).
-- Dose regimen = group plus the most frequent dose band of the induction phase (ties: lowest band,
-- by dose_band_order: a band's dose, not its name).
CREATE OR REPLACE TEMP TABLE int_patients AS
SELECT s.pid, k.registry_id, k.patient_key, k.site_id, s.grp_drug, s.grp_route, s.first_start, s.first_instant, s.last_start,
       s.sessions, s.patient_years, s.regimen
FROM (
    SELECT pid, grp_drug, grp_route, first_start, first_instant, last_start, sessions, patient_years,
           grp_drug || ' ' || grp_route || ' ' || coalesce(induction_band, 'unknown') AS regimen
    FROM (
        SELECT pid, first(drug) FILTER (WHERE is_first) AS grp_drug, first(route) FILTER (WHERE is_first) AS grp_route,
               min(session_start) AS first_start, first(session_start_instant) FILTER (WHERE is_first) AS first_instant,
               max(session_start) AS last_start,
               count(*) AS sessions, sum(exposure_days) / 365.25 AS patient_years
        FROM int_sessions
        GROUP BY pid
    ) a
    LEFT JOIN (
        -- the most frequent induction dose band, ties the lowest: counted per band, then the first
        -- by (count descending, band order) (half the CPU of mode(dose_band ORDER BY dose_band), which
        -- sorts every patient's sessions). Lowest by dose_band_order (int_sessions), not by the
        -- name: as text '0.5 mg/kg' sorts before '<0.5 mg/kg'.
        SELECT pid, arg_min(dose_band, (-n, dose_band_order(dose_band))) AS induction_band
        FROM (SELECT pid, dose_band, count(*) AS n FROM int_sessions WHERE phase = 'induction' GROUP BY pid, dose_band)
        GROUP BY pid
    ) b USING (pid)
) s
JOIN int_patient_keys k USING (pid);
