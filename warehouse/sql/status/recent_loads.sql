SELECT load_id, registry_id, export_id, status, mode,
       strftime(finished_at, '%Y-%m-%d %H:%M:%S') AS finished,
       n.rows_loaded, n.rows_quarantined, n.rows_unparked,
       left(reason, 80) AS reason
FROM ops.loads,
     -- the per-table counts of row_counts, summed over its tables in one pass; rows_unparked: rows
     -- of earlier exports, parked for a missing parent, that this load made current
     LATERAL (SELECT sum((v->>'loaded')::BIGINT) AS rows_loaded,
                     sum((v->>'quarantined')::BIGINT) AS rows_quarantined,
                     coalesce(sum((v->>'unparked')::BIGINT), 0) AS rows_unparked
              FROM (SELECT unnest(json_extract(row_counts, '$.*')) AS v)) n
ORDER BY load_id DESC
LIMIT ?;
