-- listed_{table}: the records of {table} this export says were deleted ({deleted}: key, min_row,
-- max_row, companion, made by the adapter), keyed as the warehouse keys them. A companion is withdrawn
-- if the warehouse has it and is otherwise not reported (a combined response's second record). A patient id becomes its
-- patient_key here (pk_map holds the deleted ids too), so no id reaches the load. An incremental
-- export's load withdraws these records (warehouse/sql/load/withdraw_listed.sql).
CREATE OR REPLACE TEMP TABLE listed_{table} AS
SELECT {key_expr} AS {key_first}, min(d.min_row) AS min_row, max(d.max_row) AS max_row,
       coalesce(bool_and(d.companion), false) AS companion
FROM {deleted} d {patient_join}
WHERE {key_expr} IS NOT NULL
GROUP BY 1;
