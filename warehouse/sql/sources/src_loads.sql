-- Loads up to --as-of, of one registry or all, whose data time is before the cutoff. data_at is
-- the export's exported_at (a load without one, e.g. a rejected manifest, falls back to when it
-- started); started_at is wall-clock time and is never compared with the cutoff, a data date.
CREATE OR REPLACE TEMP VIEW src_loads AS
SELECT *, coalesce(exported_at, started_at) AS data_at
FROM {loads_table}
WHERE (getvariable('as_of_load') IS NULL OR load_id <= getvariable('as_of_load'))
  AND (getvariable('registry') IS NULL OR registry_id = getvariable('registry'))
  AND (getvariable('cutoff') IS NULL OR coalesce(exported_at, started_at) < getvariable('cutoff'))
