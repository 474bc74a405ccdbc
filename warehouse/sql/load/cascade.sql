-- After a full export withdrew patients or sessions: the registry's current {table} records whose
-- {parent} is no longer current are withdrawn too. They cannot stand alone (every mart reaches the
-- patient through them), and the export that dropped the parent either did not hold them or held
-- them as orphans, which its quarantine reports. retire.sql then takes them out of core, dated as
-- this export or as the version it takes out if that is newer, so as_of agrees; such a newer
-- version (a correction that arrived before this export) waits in parked.{table} for its parent
-- first (cascade_park.sql), as it would have had it arrived after this export.
CREATE OR REPLACE TEMP TABLE cascade_{table} AS
SELECT {key_cols} FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.{parent_col} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM core.{parent} p
                  WHERE p.registry_id = getvariable('registry_id') AND p.{parent_col} = c.{parent_col});
