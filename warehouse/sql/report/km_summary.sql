-- The Kaplan-Meier table: time to first response, then relapse after response, 'all groups' last.
SELECT * FROM marts.km_summary
WHERE registry_id = ?
ORDER BY outcome DESC, instrument, drug = 'all', drug, route
