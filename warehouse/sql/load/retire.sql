-- Take the registry's records of {table} listed in {gone} out of core: their current version goes
-- to history, and a withdrawal dated as this export marks them gone (history.<t>_as_of agrees).
-- Used by a full export's withdrawals (withdraw.sql: gone_<t>) and their cascade (cascade_<t>).
-- A withdrawal is dated no earlier than the version it takes out: a cascade may take out a child
-- whose current version is newer than this export (a session corrected in March, its patient
-- withdrawn by a February full export arriving later), and dated as the export it lost to that
-- version in as_of while core had it gone (review, session 10). Full-export and listed withdrawals
-- only ever take out older versions, so theirs are dated as this export. {version_dated}: the
-- ones dated as the version they take out (cascade.sql: a child whose parent is gone).
CREATE OR REPLACE TEMP TABLE retired_{table} AS
SELECT {key_cols}, exported_at FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM {gone} k WHERE {key_match_c});

INSERT INTO history.{table} BY NAME
SELECT c.*, 'upsert' AS op FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM {gone} k WHERE {key_match_c});

DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM {gone} k WHERE {key_match_c});

INSERT INTO history.{table} BY NAME
SELECT {key_cols_k},
       getvariable('registry_id') AS registry_id, 'withdraw' AS op, getvariable('load_id')::BIGINT AS load_id,
       getvariable('export_id') AS export_id,
       CASE WHEN {version_dated} THEN c.exported_at
            ELSE greatest(getvariable('exported_at')::TIMESTAMPTZ,
                          coalesce(c.exported_at, getvariable('exported_at')::TIMESTAMPTZ)) END AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM {gone} k LEFT JOIN retired_{table} c ON {key_match_c};
DROP TABLE retired_{table};
