-- The summary's headline efficacy figure (PHQ-9 response at week 4, all groups), the efficacy table's cell.
SELECT * FROM marts.response_rates
WHERE registry_id = ? AND drug = 'all' AND instrument = 'PHQ9' AND week = 4
