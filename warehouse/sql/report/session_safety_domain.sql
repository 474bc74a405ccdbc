-- One flag table (blood pressure, dissociation, ...): each group's periods together, 'all groups' last (their total).
SELECT * FROM marts.session_safety
WHERE registry_id = ? AND domain = ? AND period IN (?, 'cumulative')
ORDER BY measure, drug = 'all', drug, route, period
