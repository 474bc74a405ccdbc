-- The registry's first rows of {table}: nothing to supersede, so current = this load's versions.
INSERT INTO core.{table} BY NAME
SELECT * EXCLUDE (op) FROM history.{table} WHERE load_id = getvariable('load_id') AND op = 'upsert';
