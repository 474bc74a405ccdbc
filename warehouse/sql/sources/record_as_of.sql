-- A record table as it stood after load `as_of_load`: per record, the version with the latest
-- exported_at among loads up to it (ties: the later load; then a withdrawal wins, migration 0007);
-- a withdrawal removes the record. Migration 0002 keeps current versions only in core.*, and all
-- of them in history.<table>_versions.
SELECT * EXCLUDE (op) FROM (
    SELECT * FROM {history_table}
    WHERE load_id <= getvariable('as_of_load')
      AND (getvariable('registry') IS NULL OR registry_id = getvariable('registry'))
    QUALIFY row_number() OVER (PARTITION BY registry_id, {key_columns}
                               ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
) WHERE op = 'upsert'
