-- The counts of report ? (scope ?), from the registered frame shown_counts (cell, count_name, value).
INSERT INTO ops.published_counts (report_id, scope, cell, count_name, value)
SELECT ?, ?, cell, count_name, value FROM shown_counts
