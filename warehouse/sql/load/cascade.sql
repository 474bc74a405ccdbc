-- After an export withdrew patients or sessions: the registry's current {table} records whose
-- {parent} is no longer current are withdrawn too, and those older than the export under a
-- {parent} it left out or deleted but could not withdraw (kept_{parent}: withdraw_kept.sql,
-- withdraw_listed_kept.sql). They cannot stand alone (every mart reaches the patient through
-- them), and the export that dropped the parent either did not hold them or held them as orphans,
-- which its quarantine reports. retire.sql then takes them out of core. Those whose {parent} is
-- gone (parent_gone) are withdrawn dated as the version taken out: the withdrawal holds for that
-- version, whose {parent} left, not for the record: an older export arriving later with a version
-- in between under a current {parent} still wins, as in exported_at order (the cascade would not
-- have touched it), and one under the gone {parent} withdraws the record at its own date
-- (supersede_orphans.sql). The others (under a kept {parent}, which is current) are dated as this
-- export: in exported_at order it took out every version of theirs older than itself. A version
-- newer than this export (a correction that arrived before it) waits in parked.{table} for its
-- parent first (cascade_park.sql), as it would have had it arrived after this export.
CREATE OR REPLACE TEMP TABLE cascade_{table} AS
SELECT {key_cols}, NOT EXISTS (SELECT 1 FROM core.{parent} p
                               WHERE p.registry_id = getvariable('registry_id') AND p.{parent_col} = c.{parent_col})
                   AS parent_gone
FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.{parent_col} IS NOT NULL
  AND (NOT EXISTS (SELECT 1 FROM core.{parent} p
                   WHERE p.registry_id = getvariable('registry_id') AND p.{parent_col} = c.{parent_col})
       -- a parent this export left out or deleted but could not withdraw (kept_{parent}): its
       -- children older than this export go, as in exported_at order; not this export's own
       -- rows, which in that order would have waited parked for the parent to come back
       OR (c.exported_at <= getvariable('exported_at')::TIMESTAMPTZ
           AND c.load_id <> getvariable('load_id')::BIGINT
           AND EXISTS (SELECT 1 FROM kept_{parent} p WHERE p.{parent_col} = c.{parent_col})));
