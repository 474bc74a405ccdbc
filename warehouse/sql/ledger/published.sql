-- Every count published so far, whatever report month or --as-of state (a reader may hold them
-- all): one row per distinct scope, cell, count and value.
SELECT DISTINCT scope, cell, count_name, value FROM {ops}.published_counts
