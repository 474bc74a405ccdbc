-- Alerts raised by rows of {table}: {record} identifies the record, patient_key the patient
-- (for vitals, which have no patient column, the patient of the row's session).
-- Quarantined rows raise theirs too, marked (migration 0010): a reading the contract rejects (SpO2
-- 45 %) or a PHQ-9 whose items do not add up may be the most urgent thing in the export.
-- Once per record and rule: a full export re-sends every record, and a safety officer told of the
-- same PHQ-9 item 9 every month stops reading (the warehouse is attached read-only as wh here).
INSERT INTO alert_rows
SELECT DISTINCT '{table}', s.{record}::VARCHAR, {patient_sql}, v.rule, e._line IS NOT NULL
FROM viol_{table} v JOIN stg_{table} s ON s._line = v._line
{patient_join}
LEFT JOIN errors_{table} e ON e._line = v._line
ANTI JOIN parkable_{table} pk ON pk._line = v._line
WHERE v.severity = 'alert'
  AND NOT EXISTS (SELECT 1 FROM wh.ops.alerts a
                  WHERE a.registry_id = getvariable('registry_id') AND a.table_name = '{table}'
                    AND a.record_id = s.{record}::VARCHAR AND a.rule = v.rule);

-- ... and by rows parked for a missing parent (split/errors.sql parkable_{table}): kept with them
-- in parked.alerts and raised, once per record and rule as above, when they load.
INSERT INTO park_alert_rows
SELECT DISTINCT '{table}', s.{record}::VARCHAR, v.rule
FROM viol_{table} v JOIN stg_{table} s ON s._line = v._line
SEMI JOIN parkable_{table} e ON e._line = v._line
WHERE v.severity = 'alert';
