-- The records of {table} the cascade takes out (cascade_{table}, cascade.sql) whose current version
-- is newer than this export: a correction that arrived before the export withdrawing its {parent}.
-- In exported_at order that version would have found its parent gone and waited in parked.{table}
-- until a load made the parent current again; so it goes there now, with its own lineage (load,
-- export, exported_at), unless parked.{table} already holds a version of the record that wins
-- (newer; ties: the later load), and replaces one it wins over. retire.sql then takes it out of
-- core as every cascaded record, its withdrawal dated as the version (so as_of hides it from this
-- load on) and written by this export, which is older: unpark.sql knows such a withdrawal by that,
-- and does not count it as a version loaded after the parked row (which would drop it).
CREATE OR REPLACE TEMP TABLE cascade_parked_{table} AS
SELECT c.* FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.exported_at > getvariable('exported_at')::TIMESTAMPTZ
  AND EXISTS (SELECT 1 FROM cascade_{table} k WHERE {key_match_c});

DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM cascade_parked_{table} k WHERE {key_match_c}
              AND (c.exported_at < k.exported_at OR (c.exported_at = k.exported_at AND c.load_id < k.load_id)));

INSERT INTO parked.{table} BY NAME
SELECT * FROM cascade_parked_{table} k
WHERE NOT EXISTS (SELECT 1 FROM parked.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c});
