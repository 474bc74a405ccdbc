CREATE OR REPLACE TEMP TABLE out_vitals AS
SELECT session_id, timepoint, minutes_after_dose, sbp, dbp, heart_rate, spo2, _line
FROM stg_vitals s ANTI JOIN errors_vitals e ON e._line = s._line;
