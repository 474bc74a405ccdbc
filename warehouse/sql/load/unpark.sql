-- Parked rows of {table} whose {parent} is now current (after this load's own {parent} rows):
-- this load's new versions of them, which upsert.sql then loads as it loads any version (the
-- latest exported_at wins; none older than the newest full export becomes current). Their
-- load_id and loaded_at are this load's, so as_of a load before this one does not show them.
-- Ties go to the later load everywhere, and a parked row arrived with the load that parked it
-- (its load_id until now): one exported at the same time as a version or withdrawal loaded after
-- it, or as a full export of {table} loaded after it (variables last_full_at, last_full_load),
-- loses, and would win with this load's id; it is dropped instead (it never was current, and its
-- quarantine row stays in ops.quarantine). A withdrawal counts as loaded with the export it names:
-- upsert.sql writes, with a later load's id, the newest full export's withdrawal of a record that
-- export did not make current (it may have held it as this very parked row). One dated later
-- than the export that wrote it does not count: the cascade's of a version newer than its export,
-- which it parked (cascade_park.sql), dated as that very version so that as_of hides it meanwhile.
CREATE OR REPLACE TEMP TABLE unpark_{table} AS
SELECT k.* FROM parked.{table} k
WHERE k.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM core.{parent} c WHERE c.registry_id = k.registry_id AND c.{parent_col} = k.{parent_col});

CREATE OR REPLACE TEMP TABLE tie_lost_{table} AS
SELECT {key_cols} FROM unpark_{table} k
WHERE (k.exported_at = getvariable('last_full_at')::TIMESTAMPTZ AND k.load_id < getvariable('last_full_load')::BIGINT)
   OR EXISTS (SELECT 1 FROM (SELECT {key_cols}, exported_at, load_id FROM core.{table} WHERE registry_id = getvariable('registry_id')
                             UNION ALL
                             SELECT {key_cols_c}, c.exported_at,
                                    CASE WHEN c.op = 'withdraw' THEN coalesce(l.load_id, getvariable('load_id')::BIGINT)
                                         ELSE c.load_id END
                             FROM history.{table} c
                             LEFT JOIN ops.loads l ON c.op = 'withdraw' AND l.registry_id = c.registry_id
                                                  AND l.export_id = c.export_id AND l.status = 'loaded'
                             WHERE c.registry_id = getvariable('registry_id')
                               AND NOT (c.op = 'withdraw'
                                        AND c.exported_at > coalesce(l.exported_at, getvariable('exported_at')::TIMESTAMPTZ))) c
              WHERE {key_match_c} AND c.exported_at = k.exported_at AND c.load_id > k.load_id);

DROP VIEW IF EXISTS temp.new_{table};
CREATE OR REPLACE TEMP TABLE new_{table} AS
SELECT k.* REPLACE (getvariable('load_id')::BIGINT AS load_id, getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at)
FROM unpark_{table} k
WHERE NOT EXISTS (SELECT 1 FROM tie_lost_{table} c WHERE {key_match_c});

DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM tie_lost_{table} k WHERE {key_match_c});
