-- The clinical alerts raised by the export's rows (alert_rows: loaded or quarantined), with their
-- rule's description. Parameters: load id, registry, export, raised at.
INSERT INTO wh.ops.alerts (load_id, registry_id, export_id, table_name, record_id, patient_key, rule, description, raised_at, quarantined)
SELECT ?, ?, ?, a.table_name, a.record_id, a.patient_key, a.rule, r.description, ?, a.quarantined
FROM alert_rows a
LEFT JOIN _rule_meta r ON r.rule = a.rule;
