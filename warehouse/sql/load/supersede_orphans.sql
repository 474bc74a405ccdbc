-- Rows of {table} waiting for a {parent} that was current at their exported_at and was withdrawn
-- later: this export's rows quarantined only for a missing {parent} ({own}: parking_{table}, or
-- none), and the rows parked.{table} holds, which an export arriving after them can show to be
-- such rows (one that shows the {parent} current at their exported_at). In exported_at order such
-- a row loaded, replaced the record's older version, and left with its {parent} (the cascade), not
-- to come back with it. So it does not wait in parked.{table}: it is dropped (its quarantine row
-- stays), and the newest of a record's withdraws the record, dated as itself and named after its
-- export: the older version current now leaves core (retire.sql), one arriving later loses to the
-- withdrawal as it would have lost to the row, and a newer one (with a current {parent}) still
-- wins. Not when the warehouse holds a version of the record as new as the row (the row lost to
-- it).
CREATE OR REPLACE TEMP TABLE late_orphans_{table} AS
SELECT k.* FROM (SELECT *, false AS _parked FROM ({own})
                  UNION ALL BY NAME
                  SELECT *, true AS _parked FROM parked.{table} WHERE registry_id = getvariable('registry_id')) k
WHERE {parent_current_at}
  AND (SELECT p.op = 'withdraw' FROM history.{parent}_versions p
       WHERE p.registry_id = k.registry_id AND p.{parent_col} = k.{parent_col}
       ORDER BY p.exported_at DESC, p.load_id DESC, p.op = 'withdraw' DESC LIMIT 1);

CREATE OR REPLACE TEMP TABLE superseded_{table} AS
SELECT {key_cols_k}, k.export_id AS _export_id, k.exported_at AS _exported_at FROM late_orphans_{table} k
WHERE NOT EXISTS (SELECT 1 FROM history.{table}_versions c
                  WHERE c.registry_id = k.registry_id AND {key_match_c} AND c.exported_at >= k.exported_at)
QUALIFY row_number() OVER (PARTITION BY {key_cols_k} ORDER BY k.exported_at DESC, k.load_id DESC) = 1;

-- In exported_at order they loaded: history keeps them, as versions of this load (as_of a load
-- before this one does not show them), before the withdrawal retire.sql writes of the newest.
INSERT INTO history.{table} BY NAME
SELECT k.* EXCLUDE (_parked) REPLACE (getvariable('load_id')::BIGINT AS load_id,
                                      getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at), 'upsert' AS op
FROM late_orphans_{table} k;

CREATE OR REPLACE TEMP TABLE superseded_current_{table} AS
SELECT count(*) AS n FROM core.{table} c
WHERE c.registry_id = getvariable('registry_id') AND EXISTS (SELECT 1 FROM superseded_{table} k WHERE {key_match_c});

-- (they are not parked, or no longer)
{delete_own}
DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id')
  AND EXISTS (SELECT 1 FROM late_orphans_{table} k WHERE k._parked AND {key_match_c} AND k.exported_at = c.exported_at);
