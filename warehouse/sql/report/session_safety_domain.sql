-- One flag table (blood pressure, dissociation, ...): a domain's measures, each group's periods together, 'all groups' last.
SELECT * FROM marts.session_safety
WHERE registry_id = ? AND domain = ? AND period IN (?, 'cumulative')
ORDER BY measure, drug = 'all', drug, route, period
