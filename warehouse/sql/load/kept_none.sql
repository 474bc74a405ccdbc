-- Before any table of a load: no {table} record left out but kept yet (withdraw_kept.sql fills
-- kept_{table} for a full export carrying {table}); cascade.sql reads it.
CREATE OR REPLACE TEMP TABLE kept_{table} AS SELECT {key_cols} FROM core.{table} WHERE false;
