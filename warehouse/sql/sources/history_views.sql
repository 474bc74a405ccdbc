-- The history schema's views in the source catalog (source_catalog NULL: the current database).
SELECT view_name FROM duckdb_views()
WHERE schema_name = 'history' AND database_name = coalesce(getvariable('source_catalog'), current_database())
