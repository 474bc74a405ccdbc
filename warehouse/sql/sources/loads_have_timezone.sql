-- Whether ops.loads has its timezone column (added by migration 0005) in the source catalog
-- (source_catalog NULL: the current database).
SELECT count(*) FROM duckdb_columns()
WHERE schema_name = 'ops' AND table_name = 'loads' AND column_name = 'timezone'
  AND database_name = coalesce(getvariable('source_catalog'), current_database())
