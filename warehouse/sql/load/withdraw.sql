-- Full export: withdraw the registry's records of {table} that it no longer holds. A withdrawal
-- is written only where no version is newer than this export, since it could never win otherwise
-- (and a record already withdrawn earlier is withdrawn again, so a late-arriving version older
-- than this export cannot bring it back).
-- Ties go to the later load, as everywhere: a version exported at the same time as this export
-- but loaded before it is withdrawn too. was_current: whether this load takes it out of core (the
-- count reported as withdrawn; the others were withdrawn already and are withdrawn again).
-- retire.sql then takes them out of core.
CREATE OR REPLACE TEMP TABLE gone_{table} AS
SELECT {key_cols}, bool_or(is_current) AS was_current FROM (
    SELECT {key_cols}, exported_at, true AS is_current FROM core.{table} WHERE registry_id = getvariable('registry_id')
    UNION ALL
    SELECT {key_cols}, exported_at, false FROM history.{table} WHERE registry_id = getvariable('registry_id')
) c
WHERE NOT EXISTS (SELECT 1 FROM keys_{table} k WHERE {key_match_c})
GROUP BY ALL
HAVING max(exported_at) <= getvariable('exported_at')::TIMESTAMPTZ;
