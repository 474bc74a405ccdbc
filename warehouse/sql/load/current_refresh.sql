-- Recompute the current version of every {table} record this load touched: the version with the
-- latest exported_at (ties: the later load) wins; a withdrawal removes the record from core.
DELETE FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM history.{table} k
              WHERE k.load_id = getvariable('load_id') AND {key_match_c});

INSERT INTO core.{table} BY NAME
SELECT * EXCLUDE (op, _rank) FROM (
    SELECT h.*, row_number() OVER (PARTITION BY {key_cols_h} ORDER BY h.exported_at DESC, h.load_id DESC) AS _rank
    FROM history.{table} h
    WHERE h.registry_id = getvariable('registry_id')
      AND EXISTS (SELECT 1 FROM history.{table} k WHERE k.load_id = getvariable('load_id')
                  AND k.registry_id = h.registry_id AND {key_match_h})
)
WHERE _rank = 1 AND op = 'upsert';
