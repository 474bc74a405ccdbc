-- Alerts raised by loaded rows of {table}: {record} identifies the record, patient_key the patient.
INSERT INTO alert_rows
SELECT DISTINCT '{table}', s.{record}::VARCHAR, s.{patient}, v.rule
FROM viol_{table} v JOIN stg_{table} s ON s._line = v._line
ANTI JOIN errors_{table} e ON e._line = v._line
WHERE v.severity = 'alert';
