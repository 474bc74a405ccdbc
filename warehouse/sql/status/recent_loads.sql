SELECT load_id, registry_id, export_id, status, mode,
       strftime(finished_at, '%Y-%m-%d %H:%M:%S') AS finished,
       (SELECT sum((v->>'loaded')::BIGINT) FROM (SELECT unnest(json_extract(row_counts, '$.*')) AS v)) AS rows_loaded,
       (SELECT sum((v->>'quarantined')::BIGINT) FROM (SELECT unnest(json_extract(row_counts, '$.*')) AS v)) AS rows_quarantined,
       -- rows of earlier exports, parked for a missing parent, that this load made current
       coalesce((SELECT sum((v->>'unparked')::BIGINT) FROM (SELECT unnest(json_extract(row_counts, '$.*')) AS v)), 0) AS rows_unparked,
       left(reason, 80) AS reason
FROM ops.loads
ORDER BY load_id DESC
LIMIT ?;
