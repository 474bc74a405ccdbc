-- The alerts the parked rows of {table} loaded now raise (kept with them in parked.alerts), once
-- per record and rule as every alert (transforms/sql/split/alerts.sql), under this load.
INSERT INTO ops.alerts (load_id, registry_id, export_id, table_name, record_id, patient_key, rule, description, raised_at, quarantined)
SELECT getvariable('load_id')::BIGINT, a.registry_id, any_value(k.export_id), a.table_name, a.record_id,
       any_value({patient_sql}), a.rule, coalesce(any_value(r.description), a.rule), getvariable('loaded_at')::TIMESTAMPTZ,
       false
FROM parked.alerts a
JOIN new_{table} k ON k.registry_id = a.registry_id AND k.{record}::VARCHAR = a.record_id
{patient_join}
LEFT JOIN _rule_meta r ON r.rule = a.rule
WHERE a.registry_id = getvariable('registry_id') AND a.table_name = '{table}'
  AND NOT EXISTS (SELECT 1 FROM ops.alerts x WHERE x.registry_id = a.registry_id AND x.table_name = a.table_name
                  AND x.record_id = a.record_id AND x.rule = a.rule)
GROUP BY a.registry_id, a.table_name, a.record_id, a.rule;
