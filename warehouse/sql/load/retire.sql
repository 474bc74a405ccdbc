-- Take the registry's records of {table} listed in {gone} out of core: their current version goes
-- to history, and a withdrawal dated as this export marks them gone (history.<t>_as_of agrees).
-- Used by a full export's withdrawals (withdraw.sql: gone_<t>) and their cascade (cascade_<t>).
INSERT INTO history.{table} BY NAME
SELECT c.*, 'upsert' AS op FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM {gone} k WHERE {key_match_c});

DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM {gone} k WHERE {key_match_c});

INSERT INTO history.{table} BY NAME
SELECT {key_cols},
       getvariable('registry_id') AS registry_id, 'withdraw' AS op, getvariable('load_id')::BIGINT AS load_id,
       getvariable('export_id') AS export_id, getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM {gone};
