-- This export's rows of {table} quarantined only for a missing {parent} (parking_{table}) whose
-- {parent} was current at their exported_at and was withdrawn later (an export arriving after the
-- one that withdrew it). In exported_at order such a row loaded, replaced the record's older
-- version, and left with its {parent} (the cascade), not to come back with it. So it withdraws its
-- record, dated as itself, instead of waiting in parked.{table}: the older version current now
-- leaves core (retire.sql), one arriving later loses to the withdrawal as it would have lost to the
-- row, and a newer one (with a current {parent}) still wins. Not when the warehouse holds a version
-- of the record as new as the row (the row would have lost to it).
CREATE OR REPLACE TEMP TABLE superseded_{table} AS
SELECT DISTINCT {key_cols_k} FROM parking_{table} k
WHERE (SELECT p.op = 'upsert' FROM history.{parent}_versions p
       WHERE p.registry_id = k.registry_id AND p.{parent_col} = k.{parent_col} AND p.exported_at <= k.exported_at
       ORDER BY p.exported_at DESC, p.load_id DESC, p.op = 'withdraw' DESC LIMIT 1)
  AND (SELECT p.op = 'withdraw' FROM history.{parent}_versions p
       WHERE p.registry_id = k.registry_id AND p.{parent_col} = k.{parent_col}
       ORDER BY p.exported_at DESC, p.load_id DESC, p.op = 'withdraw' DESC LIMIT 1)
  AND NOT EXISTS (SELECT 1 FROM history.{table}_versions c
                  WHERE c.registry_id = k.registry_id AND {key_match_c} AND c.exported_at >= k.exported_at);

CREATE OR REPLACE TEMP TABLE superseded_current_{table} AS
SELECT count(*) AS n FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM superseded_{table} k WHERE {key_match_c});

-- (they are not parked)
DELETE FROM park_{table} c WHERE EXISTS (SELECT 1 FROM superseded_{table} k WHERE {key_match_c});
