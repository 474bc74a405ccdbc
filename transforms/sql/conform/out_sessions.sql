CREATE OR REPLACE TEMP TABLE out_sessions AS
SELECT session_id, patient_key, session_start, drug, route, dose_mg, dose_mg_per_kg, weight_kg,
       infusion_minutes, devices, setting, monitoring_minutes, _line
FROM stg_sessions s ANTI JOIN errors_sessions e ON e._line = s._line;
