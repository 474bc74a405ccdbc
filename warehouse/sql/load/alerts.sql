-- The clinical alerts raised by the export's loaded rows (alert_rows), with their rule's
-- description. Parameters: load id, registry, export, raised at.
INSERT INTO wh.ops.alerts
SELECT ?, ?, ?, a.table_name, a.record_id, a.patient_key, a.rule, r.description, ?
FROM alert_rows a
LEFT JOIN _rule_meta r ON r.rule = a.rule;
