-- marts.dq_loads: load attempts by registry, data month and status, with rows read, loaded,
-- quarantined and withdrawn (summed over tables from ops.loads.row_counts).
-- Month = the export's data month (exported_at; started_at only when a load has none: src_loads'
-- data_at), never the wall-clock month the load ran: a month's closing export, exported on its
-- last day and loaded on the 1st of the next month, is that month's.
CREATE OR REPLACE TABLE marts.dq_loads AS
WITH l AS (
    SELECT l.load_id, l.registry_id, strftime(l.data_at, '%Y-%m') AS month, l.status,
           t.tbl, l.row_counts
    FROM src_loads l
    LEFT JOIN LATERAL (SELECT unnest(json_keys(l.row_counts)) AS tbl) t ON true
)
SELECT registry_id, month, status, count(DISTINCT load_id) AS loads,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'read' AS BIGINT)), 0) AS rows_read,
       -- a rejected attempt loads nothing (before session 10 its counts said 'loaded' for its valid rows)
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'loaded' AS BIGINT)) FILTER (WHERE status = 'loaded'), 0) AS rows_loaded,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'quarantined' AS BIGINT)), 0) AS rows_quarantined,
       coalesce(sum(TRY_CAST(row_counts -> tbl ->> 'withdrawn' AS BIGINT)), 0) AS rows_withdrawn
FROM l GROUP BY ALL ORDER BY registry_id, month, status;

-- marts.dq_quarantine: quarantined rows by registry, data month of their export (as dq_loads),
-- table and rule (a row breaking two rules counts under each). An export delivered more than once
-- (rejected, then again, or corrected under the same id) counts with its latest attempt's rows
-- only: each attempt keeps its own quarantine in ops.quarantine, but they are the same rows.
CREATE OR REPLACE TABLE marts.dq_quarantine AS
SELECT registry_id, strftime(data_at, '%Y-%m') AS month, table_name, rule,
       count(DISTINCT (load_id, source_file, source_row)) AS rows_quarantined
FROM (SELECT * FROM src_quarantine QUALIFY load_id = max(load_id) OVER (PARTITION BY registry_id, export_id))
GROUP BY ALL ORDER BY registry_id, month, table_name, rule;
