-- Incremental export listing {table} records (patients or sessions) as deleted: those it cannot
-- withdraw because a version newer than this export is current (it arrived first). In exported_at
-- order the deletion would have withdrawn them, and the cascade their children, before the newer
-- version brought the record back without them; so their children older than this export go now
-- (cascade.sql), as for a full export leaving them out (withdraw_kept.sql). A record another
-- resource type made under the same id is not one (its source_row lies outside the listing's
-- bounds, as in withdraw_listed.sql).
INSERT INTO kept_{table}
SELECT {key_cols_c} FROM core.{table} c JOIN listed_{table} k ON {key_match_c}
WHERE c.registry_id = getvariable('registry_id')
  AND c.exported_at > getvariable('exported_at')::TIMESTAMPTZ
  AND (c.source_row IS NULL OR c.source_row BETWEEN k.min_row AND k.max_row);
