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

CREATE OR REPLACE TEMP TABLE wins_{table} AS
SELECT n.* FROM new_{table} n
WHERE NOT EXISTS (SELECT 1 FROM latest_{table} k WHERE {key_match_n} AND k.exported_at > n.exported_at);

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
