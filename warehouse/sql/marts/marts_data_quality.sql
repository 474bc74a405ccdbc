-- marts.dq_loads: load attempts by registry, month started and status, with rows read, loaded,
-- quarantined and withdrawn (summed over tables from ops.loads.row_counts).
CREATE OR REPLACE TABLE marts.dq_loads AS
WITH l AS (
    SELECT l.load_id, l.registry_id, strftime(l.started_at, '%Y-%m') AS month, l.status,
           t.tbl, l.row_counts
    FROM src_loads l
    LEFT JOIN LATERAL (SELECT unnest(json_keys(l.row_counts)) AS tbl) t ON true
)
SELECT registry_id, month, status, count(DISTINCT load_id) AS loads,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'read' AS BIGINT)), 0) AS rows_read,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'loaded' AS BIGINT)), 0) AS rows_loaded,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'quarantined' AS BIGINT)), 0) AS rows_quarantined,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'withdrawn' AS BIGINT)), 0) AS rows_withdrawn
FROM l GROUP BY ALL ORDER BY registry_id, month, status;

-- marts.dq_quarantine: quarantined rows by registry, month quarantined, table and rule
-- (a row breaking two rules counts under each).
CREATE OR REPLACE TABLE marts.dq_quarantine AS
SELECT registry_id, strftime(quarantined_at, '%Y-%m') AS month, table_name, rule,
       count(DISTINCT (load_id, source_file, source_row)) AS rows_quarantined
FROM src_quarantine GROUP BY ALL ORDER BY registry_id, month, table_name, rule;
