-- core.{table} holds each record's latest version (by exported_at; ties go to the later load),
-- history.{table} every other version and every withdrawal. A new version wins unless the
-- warehouse already holds a version of that record exported later (an export arriving late).
CREATE OR REPLACE TEMP TABLE latest_{table} AS
SELECT {key_cols}, max(exported_at) AS exported_at FROM (
    SELECT {key_cols}, exported_at FROM core.{table} c
    WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM new_{table} k WHERE {key_match_c})
    UNION ALL
    SELECT {key_cols}, exported_at FROM history.{table} c
    WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM new_{table} k WHERE {key_match_c})
) GROUP BY ALL;

-- A full export exported later than a version says the record was gone by then if it did not
-- hold it (if it did, its own version is later still), unless it held it only as a parked row,
-- its version waiting for a parent (parked.<t>_held): then the version it found current stayed
-- current. left_out_{table}: for each version, the newest full export of {table} exported after
-- it that left its record out (the registry's loaded full exports whose withdrawals were not
-- skipped, and this one if it is one: variable this_full). A version with one never becomes
-- current, even for a record that export never saw: an old export arriving late cannot bring back
-- what a newer full export left out. A record core still holds with a version older than such an
-- export is one no newer full export left out: a newer version of it wins as in exported_at order.
CREATE OR REPLACE TEMP TABLE left_out_{table} AS
SELECT {key_cols_n}, f.exported_at AS full_at, f.export_id AS full_export
FROM new_{table} n
JOIN (SELECT exported_at, export_id, load_id FROM ops.loads
      WHERE registry_id = getvariable('registry_id') AND status = 'loaded' AND mode = 'full'
        AND json_exists(row_counts, '$.{table}.read') AND NOT json_exists(row_counts, '$.{table}.notes.withdrawals_skipped')
      UNION ALL
      SELECT getvariable('exported_at')::TIMESTAMPTZ, getvariable('export_id'), getvariable('load_id')::BIGINT
      WHERE coalesce(getvariable('this_full'), false)) f ON f.exported_at > n.exported_at
WHERE n.exported_at < getvariable('last_full_at')::TIMESTAMPTZ  -- (none newer: an export in order reads nothing here)
  AND NOT {held_by_f_n}
QUALIFY row_number() OVER (PARTITION BY {key_cols_n} ORDER BY f.exported_at DESC, f.load_id DESC) = 1;

CREATE OR REPLACE TEMP TABLE wins_{table} AS
SELECT n.* FROM new_{table} n
WHERE NOT EXISTS (SELECT 1 FROM latest_{table} k WHERE {key_match_n} AND k.exported_at > n.exported_at)
  AND (NOT EXISTS (SELECT 1 FROM left_out_{table} k WHERE {key_match_n})
       OR EXISTS (SELECT 1 FROM core.{table} k WHERE k.registry_id = getvariable('registry_id') AND {key_match_n}));

-- displaced current versions become history
INSERT INTO history.{table} BY NAME
SELECT c.*, 'upsert' AS op FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM wins_{table} k WHERE {key_match_c});

DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM wins_{table} k WHERE {key_match_c});

INSERT INTO core.{table} BY NAME SELECT * FROM wins_{table};

-- versions that arrived after a later one: history only
INSERT INTO history.{table} BY NAME
SELECT n.*, 'upsert' AS op FROM new_{table} n
WHERE NOT EXISTS (SELECT 1 FROM wins_{table} k WHERE {key_match_n});

-- ... and where no later version exists, only the newer full export that left the record out:
-- a withdrawal dated as that export, so history.<t>_as_of agrees with core from this load on.
-- Not for a record core holds (no newer full export left it out), which dated after the current
-- version would hide it from as_of.
INSERT INTO history.{table} BY NAME
SELECT {key_cols_k}, getvariable('registry_id') AS registry_id, 'withdraw' AS op,
       getvariable('load_id')::BIGINT AS load_id, k.full_export AS export_id,
       k.full_at AS exported_at, getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM left_out_{table} k
WHERE NOT EXISTS (SELECT 1 FROM wins_{table} n WHERE {key_match_n})
  AND NOT EXISTS (SELECT 1 FROM latest_{table} n WHERE {key_match_n} AND n.exported_at >= k.full_at)
  AND NOT EXISTS (SELECT 1 FROM core.{table} n WHERE n.registry_id = getvariable('registry_id') AND {key_match_n});
