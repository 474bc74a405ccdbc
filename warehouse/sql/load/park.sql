-- This export's rows of {table} quarantined only for a missing parent, with this load's lineage
-- (parking_{table}: new_versions.sql over park_{table}), kept until a load makes the parent current
-- (unpark.sql). Every version waits, not only a record's newest: an older one whose parent is
-- current loads while a newer one still waits for its own (in exported_at order the older one was
-- current until the newer one's parent arrived). A version exported at the same time as one parked
-- before replaces it (ties go to the later load). Parked rows that could never become current are
-- dropped, this export's too: those older than a full export of {table} (a loaded one whose
-- withdrawals were not skipped, or this one: variable this_full) that did not hold their record
-- only as a parked row (parked.{table}_held): it either left the record out or held a newer
-- version of it.
DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.exported_at < coalesce(getvariable('last_full_at')::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND EXISTS (SELECT 1 FROM (SELECT exported_at, load_id FROM ops.loads
                             WHERE registry_id = getvariable('registry_id') AND status = 'loaded' AND mode = 'full'
                               AND json_exists(row_counts, '$.{table}.read')
                               AND NOT json_exists(row_counts, '$.{table}.notes.withdrawals_skipped')
                             UNION ALL
                             SELECT getvariable('exported_at')::TIMESTAMPTZ, getvariable('load_id')::BIGINT
                             WHERE coalesce(getvariable('this_full'), false)) f
              WHERE f.exported_at > c.exported_at
                AND NOT EXISTS (SELECT 1 FROM parked.{table}_held h WHERE h.registry_id = c.registry_id
                                AND h.load_id = f.load_id AND {key_match_hc}));

DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id') AND c.exported_at = getvariable('exported_at')::TIMESTAMPTZ
  AND EXISTS (SELECT 1 FROM parking_{table} k WHERE {key_match_c});

INSERT INTO parked.{table} BY NAME
SELECT * FROM parking_{table} k
WHERE NOT EXISTS (SELECT 1 FROM (SELECT exported_at, load_id FROM ops.loads
                                 WHERE registry_id = getvariable('registry_id') AND status = 'loaded' AND mode = 'full'
                                   AND json_exists(row_counts, '$.{table}.read')
                                   AND NOT json_exists(row_counts, '$.{table}.notes.withdrawals_skipped')) f
                  WHERE f.exported_at > k.exported_at
                    AND NOT EXISTS (SELECT 1 FROM parked.{table}_held h WHERE h.registry_id = k.registry_id
                                    AND h.load_id = f.load_id AND {key_match_hk}));

-- The alerts those rows raise (split/alerts.sql park_alert_rows), raised when they load.
INSERT INTO parked.alerts
SELECT DISTINCT getvariable('registry_id'), a.table_name, a.record_id, a.rule FROM park_alert_rows a
WHERE a.table_name = '{table}'
  AND NOT EXISTS (SELECT 1 FROM parked.alerts x WHERE x.registry_id = getvariable('registry_id')
                  AND x.table_name = a.table_name AND x.record_id = a.record_id AND x.rule = a.rule);
