-- Load attempts up to the report month, so a reader sees how complete the data behind the figures is.
SELECT * FROM marts.dq_loads
WHERE (? = 'all' OR registry_id = ?) AND month <= ?
ORDER BY registry_id, month, status
