-- The efficacy tables, one per instrument, each group's weeks together and 'all groups' last.
SELECT * FROM marts.response_rates
WHERE registry_id = ?
ORDER BY instrument, drug = 'all', drug, route, week
