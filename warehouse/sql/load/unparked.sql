-- Parked rows of {table} that loaded (new_{table}, by unpark.sql and upsert.sql) leave parked.
DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM new_{table} k WHERE {key_match_c});

-- A withdrawal this load wrote at the exported_at of a parked row it made current (wins_{table},
-- upsert.sql) goes: it stood for that row's absence from core (upsert.sql's of the full export that
-- held the row parked, the cascade's that parked it), and tying with it in this load it would
-- hide the row from history.<t>_as_of.
DELETE FROM history.{table} c
WHERE c.registry_id = getvariable('registry_id') AND c.op = 'withdraw' AND c.load_id = getvariable('load_id')::BIGINT
  AND EXISTS (SELECT 1 FROM wins_{table} k WHERE {key_match_c} AND k.exported_at = c.exported_at);
