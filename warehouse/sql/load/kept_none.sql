-- Before any table of a load: no {table} record left out or deleted but kept yet
-- (withdraw_kept.sql and withdraw_listed_kept.sql add them); cascade.sql reads it.
CREATE OR REPLACE TEMP TABLE kept_{table} AS SELECT {key_cols} FROM core.{table} WHERE false;
