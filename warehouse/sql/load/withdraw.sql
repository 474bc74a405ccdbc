-- Full export: withdraw the registry's records of {table} that it no longer holds. A withdrawal
-- is written only where no version is newer than this export, since it could never win otherwise
-- (and a record already withdrawn earlier is withdrawn again, so a late-arriving version older
-- than this export cannot bring it back).
-- Ties go to the later load, as everywhere: a version exported at the same time as this export
-- but loaded before it is withdrawn too. was_current: whether this load takes it out of core (the
-- count reported as withdrawn; the others were withdrawn already and are withdrawn again).
CREATE OR REPLACE TEMP TABLE gone_{table} AS
SELECT {key_cols}, bool_or(is_current) AS was_current FROM (
    SELECT {key_cols}, exported_at, true AS is_current FROM core.{table} WHERE registry_id = getvariable('registry_id')
    UNION ALL
    SELECT {key_cols}, exported_at, false FROM history.{table} WHERE registry_id = getvariable('registry_id')
) c
WHERE NOT EXISTS (SELECT 1 FROM keys_{table} k WHERE {key_match_c})
GROUP BY ALL
HAVING max(exported_at) <= getvariable('exported_at')::TIMESTAMPTZ;

INSERT INTO history.{table} BY NAME
SELECT c.*, 'upsert' AS op FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM gone_{table} k WHERE {key_match_c});

DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM gone_{table} k WHERE {key_match_c});

INSERT INTO history.{table} BY NAME
SELECT {key_cols},
       getvariable('registry_id') AS registry_id, 'withdraw' AS op, getvariable('load_id')::BIGINT AS load_id,
       getvariable('export_id') AS export_id, getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM gone_{table};
