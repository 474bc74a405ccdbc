-- One quarantine row per rejected row of {table} and broken rule, with the row as it arrived:
-- the contract's columns only ({row_struct}), patient_id replaced by its patient_key.
INSERT INTO q_rows
SELECT '{table}', getvariable('source_file_{table}'), v._line, v.rule, to_json({row_struct})::VARCHAR
FROM (SELECT DISTINCT _line, rule FROM viol_{table} WHERE severity = 'error') v
JOIN raw_{table} r ON r._line = v._line
{patient_join};
