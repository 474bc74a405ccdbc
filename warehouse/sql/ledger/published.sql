-- Every count published so far that a report of scope ? is compared with (reports.ledger.compared_scopes:
-- a registry's own and the pooled ones; the pooled report, every scope), whatever report month or
-- --as-of state it came from (a reader may hold them all): one row per distinct scope, cell, count
-- and value. Parameters: the scope, twice.
SELECT DISTINCT scope, cell, count_name, value FROM {ops}.published_counts
WHERE ? = 'all' OR scope = ? OR scope = 'all'
