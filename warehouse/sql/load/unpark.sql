-- Parked rows of {table} whose {parent} is now current (after this load's own {parent} rows):
-- this load's new versions of them, which upsert.sql then loads as it loads any version (the
-- latest exported_at wins; none older than the newest full export becomes current). Their
-- load_id and loaded_at are this load's, so as_of a load before this one does not show them.
DROP VIEW IF EXISTS temp.new_{table};
CREATE OR REPLACE TEMP TABLE new_{table} AS
SELECT p.* REPLACE (getvariable('load_id')::BIGINT AS load_id, getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at)
FROM parked.{table} p
WHERE p.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM core.{parent} c WHERE c.registry_id = p.registry_id AND c.{parent_col} = p.{parent_col});
