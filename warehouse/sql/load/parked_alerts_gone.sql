-- The alerts of rows of {table} no longer parked (loaded, or dropped) go with them.
DELETE FROM parked.alerts a
WHERE a.registry_id = getvariable('registry_id') AND a.table_name = '{table}'
  AND NOT EXISTS (SELECT 1 FROM parked.{table} p
                  WHERE p.registry_id = a.registry_id AND p.{record}::VARCHAR = a.record_id);
