-- The counts of report ?, from the registered frame shown_counts (scope, cell, count_name, value):
-- the scope is the report's, or another one for a count it shows under that scope's key too.
INSERT INTO ops.published_counts (report_id, scope, cell, count_name, value)
SELECT ?, scope, cell, count_name, value FROM shown_counts
