-- raw_{table} of a file with malformed records, which DuckDB's reader left out of {src}: a good
-- record's line is its ordinal plus the rejected records before it, r(g) = g + the count of j with r_j - j < g
-- over the sorted rejected records ({rej}_rec: their record lines, transforms/read.py).
CREATE OR REPLACE TEMP TABLE raw_{table} AS
WITH r AS (SELECT DISTINCT line - 1 AS rec FROM {rej}_rec),
     c AS (SELECT rec - row_number() OVER (ORDER BY rec) AS c, row_number() OVER (ORDER BY rec) AS j FROM r),
     cm AS (SELECT c, max(j) AS j FROM c GROUP BY c),
     g AS (SELECT s.*, s.{ordinal} + 1 AS _g FROM {src} s)
SELECT (g._g + coalesce(cm.j, 0) + 1)::BIGINT AS _line, {cols_sql}
FROM g ASOF LEFT JOIN cm ON g._g > cm.c;
