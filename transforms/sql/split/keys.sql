-- Every record key this export holds for {table}, valid or quarantined: a full export withdraws
-- only the records it no longer holds, not the ones it holds with errors.
CREATE OR REPLACE TEMP TABLE keys_{table} AS
SELECT DISTINCT {key_cols} FROM stg_{table} WHERE {key_first} IS NOT NULL;
