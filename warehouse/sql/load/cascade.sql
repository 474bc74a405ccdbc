-- After a full export withdrew patients or sessions: the registry's current {table} records whose
-- {parent} is no longer current are withdrawn too. They cannot stand alone (every mart reaches the
-- patient through them), and the export that dropped the parent either did not hold them or held
-- them as orphans, which its quarantine reports. Dated as this export, so as_of agrees.
CREATE OR REPLACE TEMP TABLE cascade_{table} AS
SELECT {key_cols} FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND c.{parent_col} IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM core.{parent} p
                  WHERE p.registry_id = getvariable('registry_id') AND p.{parent_col} = c.{parent_col});

INSERT INTO history.{table} BY NAME
SELECT c.*, 'upsert' AS op FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM cascade_{table} k WHERE {key_match_c});

DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM cascade_{table} k WHERE {key_match_c});

INSERT INTO history.{table} BY NAME
SELECT {key_cols},
       getvariable('registry_id') AS registry_id, 'withdraw' AS op, getvariable('load_id')::BIGINT AS load_id,
       getvariable('export_id') AS export_id, getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM cascade_{table};
