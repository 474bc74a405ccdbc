-- Incremental export: withdraw the registry's records of {table} that it lists as deleted
-- (listed_{table}: key, min_row, max_row; a FHIR Bulk export's `deleted` files). By the same rules as
-- a full export's withdrawals (withdraw.sql): a withdrawal is written only where no version (nor an
-- earlier withdrawal) is newer than this export, since a later version wins whatever the arrival
-- order; ties go to the later load; a record withdrawn before is withdrawn again, so an older
-- version arriving late cannot bring it back. Every version's source_row must lie within the
-- listing's bounds (the rows of the deleted resource's type, transforms/adapters/sql/fhir_deleted.sql):
-- a record another resource type made under the same id is left alone. was_current: whether this load takes it
-- out of core (the count reported as withdrawn). retire.sql then takes them out of core.
CREATE OR REPLACE TEMP TABLE gone_{table} AS
WITH v AS (
    SELECT {key_cols_c}, c.exported_at, c.source_row, true AS is_current, k.min_row, k.max_row
    FROM core.{table} c JOIN listed_{table} k ON {key_match_c}
    WHERE c.registry_id = getvariable('registry_id')
    UNION ALL
    SELECT {key_cols_c}, c.exported_at, c.source_row, false, k.min_row, k.max_row
    FROM history.{table} c JOIN listed_{table} k ON {key_match_c}
    WHERE c.registry_id = getvariable('registry_id')
)
SELECT {key_cols}, bool_or(is_current) AS was_current, false AS unseen
FROM v
GROUP BY ALL
HAVING max(exported_at) <= getvariable('exported_at')::TIMESTAMPTZ
   AND bool_and(source_row IS NULL OR source_row BETWEEN min_row AND max_row)
UNION ALL
-- Listed records the warehouse never held (the export that made them not loaded yet): withdrawn
-- all the same (unseen), so that this withdrawal is remembered and that export, arriving late with
-- an older exported_at, loads them as history only (upsert.sql: a later version or withdrawal
-- wins). A companion (a record the resource made only if it was of a kind) is not remembered.
SELECT {key_cols}, false, true FROM listed_{table} k
WHERE NOT k.companion
  AND NOT EXISTS (SELECT 1 FROM core.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c})
  AND NOT EXISTS (SELECT 1 FROM history.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c});
