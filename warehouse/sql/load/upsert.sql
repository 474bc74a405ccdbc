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
-- hold it (if it did, its own version is later still). A version older than the registry's
-- newest full export of {table} (variable last_full_at, set by the load) therefore never becomes
-- current, even for a record that full export never saw: an old export arriving late cannot
-- bring back what a newer full export left out. A record core still holds with a version older
-- than that export is one it did not leave out (it held it as a parked row, its version waiting
-- for its parent): a newer version of it wins as in exported_at order.
CREATE OR REPLACE TEMP TABLE wins_{table} AS
SELECT n.* FROM new_{table} n
WHERE NOT EXISTS (SELECT 1 FROM latest_{table} k WHERE {key_match_n} AND k.exported_at > n.exported_at)
  AND (n.exported_at >= coalesce(getvariable('last_full_at')::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
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
-- Not for a record core holds: that export did not leave it out (it held it as a parked row, its
-- version waiting for its parent), and dated after the current version the withdrawal would hide
-- it from as_of.
INSERT INTO history.{table} BY NAME
SELECT {key_cols}, getvariable('registry_id') AS registry_id, 'withdraw' AS op,
       getvariable('load_id')::BIGINT AS load_id, getvariable('last_full_export') AS export_id,
       getvariable('last_full_at')::TIMESTAMPTZ AS exported_at, getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM (SELECT DISTINCT {key_cols} FROM new_{table} n
      WHERE getvariable('last_full_at') IS NOT NULL
        AND NOT EXISTS (SELECT 1 FROM wins_{table} k WHERE {key_match_n})
        AND NOT EXISTS (SELECT 1 FROM latest_{table} k WHERE {key_match_n}
                        AND k.exported_at >= getvariable('last_full_at')::TIMESTAMPTZ)
        AND NOT EXISTS (SELECT 1 FROM core.{table} k WHERE k.registry_id = getvariable('registry_id')
                        AND {key_match_n}));
