CREATE OR REPLACE TEMP TABLE out_labs AS
SELECT lab_id, patient_key, collected_on, test, value, unit, uln, _line
FROM stg_labs s ANTI JOIN errors_labs e ON e._line = s._line;
