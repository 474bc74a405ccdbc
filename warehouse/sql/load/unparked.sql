-- Parked rows of {table} that loaded (new_{table}, by unpark.sql and upsert.sql) leave parked.
DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM new_{table} k WHERE {key_match_c});
