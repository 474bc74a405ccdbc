-- Each registry's data end: the day after its latest loaded export up to --as-of (exported_at as a
-- date of the registry's zone, registry_tz, like its sessions' dates), of one registry or all. Not
-- cut off: an export after the cutoff still holds the records before it; int_efficacy takes the
-- earlier of this and the cutoff. A registry the marts see records of but whose exports are not
-- in ops.loads has no row.
CREATE OR REPLACE TEMP VIEW src_data_ends AS
SELECT registry_id,
       max(CASE WHEN getvariable('registry_tz')[registry_id] IS NULL THEN exported_at
                ELSE timezone('UTC', timezone(getvariable('registry_tz')[registry_id], exported_at)) END
           AT TIME ZONE 'UTC')::DATE + 1 AS data_end
FROM {loads_table}
WHERE status = 'loaded' AND exported_at IS NOT NULL
  AND (getvariable('as_of_load') IS NULL OR load_id <= getvariable('as_of_load'))
  AND (getvariable('registry') IS NULL OR registry_id = getvariable('registry'))
GROUP BY registry_id
