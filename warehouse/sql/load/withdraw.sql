-- Full export: withdraw the registry's records of {table} that it no longer holds. A tombstone is
-- written only where no version is newer than this export, since it could never win otherwise.
INSERT INTO history.{table} BY NAME
SELECT {key_cols},
       getvariable('registry_id') AS registry_id, 'withdraw' AS op, getvariable('load_id') AS load_id,
       getvariable('export_id') AS export_id, getvariable('exported_at')::TIMESTAMPTZ AS exported_at,
       getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at
FROM (
    SELECT {key_cols}, max(exported_at) AS latest, arg_max(op, (exported_at, load_id)) AS latest_op
    FROM history.{table}
    WHERE registry_id = getvariable('registry_id') AND load_id <> getvariable('load_id')
    GROUP BY ALL
) h
WHERE h.latest < getvariable('exported_at')::TIMESTAMPTZ
  AND h.latest_op = 'upsert'
  AND NOT EXISTS (SELECT 1 FROM keys_{table} k WHERE {key_match});
