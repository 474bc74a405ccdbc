-- Every record key this export holds for {table}, valid or quarantined: a full export withdraws
-- only the records it no longer holds, not the ones it holds with errors. Keys staging found unique
-- (_key_count = 1) need no DISTINCT; only the few others are de-duplicated (a DISTINCT over 10M ids
-- cost about a second).
CREATE OR REPLACE TEMP TABLE keys_{table} AS
SELECT {key_cols} FROM stg_{table} WHERE {key_first} IS NOT NULL AND _key_count = 1
UNION ALL
SELECT DISTINCT {key_cols} FROM stg_{table} WHERE {key_first} IS NOT NULL AND _key_count IS DISTINCT FROM 1;

-- Rows whose record cannot be told (a blank required key column, or a typed one that did not
-- parse; their rules quarantine them): a full export withdraws nothing of {table} then
-- (warehouse/load.py, split.can_withdraw), since such a row may hold any record it seems not to.
CREATE OR REPLACE TEMP TABLE unkeyed_{table} AS
SELECT count(*)::BIGINT AS n FROM stg_{table} WHERE {unknown_key};
