-- Full export, for {table} (patients or sessions): the records it no longer holds but cannot
-- withdraw, since a version newer than this export is current (it arrived first). In exported_at
-- order this export would have withdrawn them, and the cascade their children, before the newer
-- version brought the record back without them; so their children of versions older than this
-- export go now (cascade.sql), and both arrival orders end in the same state.
INSERT INTO kept_{table}
SELECT {key_cols} FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.exported_at > getvariable('exported_at')::TIMESTAMPTZ
  AND NOT EXISTS (SELECT 1 FROM keys_{table} k WHERE {key_match_c});
