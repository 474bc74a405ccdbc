-- This export's rows of {table} quarantined only for a missing parent, with this load's lineage
-- (parking_{table}: new_versions.sql over park_{table}), kept until a load makes the parent current
-- (unpark.sql). One version per record: a newer one replaces an older one, an older one waits
-- behind a newer. Parked rows older than the registry's newest full export of {table} (variable
-- last_full_at) could never become current and are dropped, this export's too.
DELETE FROM parked.{table}
WHERE registry_id = getvariable('registry_id')
  AND exported_at < coalesce(getvariable('last_full_at')::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ);

DELETE FROM parked.{table} c
WHERE c.registry_id = getvariable('registry_id') AND c.exported_at <= getvariable('exported_at')::TIMESTAMPTZ
  AND EXISTS (SELECT 1 FROM parking_{table} k WHERE {key_match_c});

INSERT INTO parked.{table} BY NAME
SELECT * FROM parking_{table} k
WHERE getvariable('exported_at')::TIMESTAMPTZ >= coalesce(getvariable('last_full_at')::TIMESTAMPTZ, '-infinity'::TIMESTAMPTZ)
  AND NOT EXISTS (SELECT 1 FROM parked.{table} c WHERE c.registry_id = getvariable('registry_id') AND {key_match_c});

-- The alerts those rows raise (split/alerts.sql park_alert_rows), raised when they load.
INSERT INTO parked.alerts
SELECT DISTINCT getvariable('registry_id'), a.table_name, a.record_id, a.rule FROM park_alert_rows a
WHERE a.table_name = '{table}'
  AND NOT EXISTS (SELECT 1 FROM parked.alerts x WHERE x.registry_id = getvariable('registry_id')
                  AND x.table_name = a.table_name AND x.record_id = a.record_id AND x.rule = a.rule);
