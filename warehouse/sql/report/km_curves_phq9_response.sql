-- The one curve chart (PHQ-9 response per treatment group), drawn only for groups whose km cell is shown.
SELECT * FROM marts.km_curves
WHERE registry_id = ? AND outcome = 'response' AND instrument = 'PHQ9' AND drug <> 'all'
ORDER BY drug, route, timeline
