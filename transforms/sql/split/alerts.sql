-- Alerts raised by loaded rows of {table}: {record} identifies the record, patient_key the patient
-- (for vitals, which have no patient column, the patient of the row's session).
INSERT INTO alert_rows
SELECT DISTINCT '{table}', s.{record}::VARCHAR, {patient_sql}, v.rule
FROM viol_{table} v JOIN stg_{table} s ON s._line = v._line
{patient_join}
ANTI JOIN errors_{table} e ON e._line = v._line
WHERE v.severity = 'alert';
