-- Each registry's zone: that of its latest loaded export up to --as-of (as_of_load NULL: all loads).
SELECT registry_id, arg_max(timezone, load_id) FROM {loads_table}
WHERE status = 'loaded' AND timezone IS NOT NULL
  AND (getvariable('as_of_load') IS NULL OR load_id <= getvariable('as_of_load'))
GROUP BY registry_id
