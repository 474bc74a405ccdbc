-- The long-term signals table (clinical-reference 4.4): the same mart as the safety table, its 'signal' rows.
SELECT * FROM marts.ae_rates
WHERE registry_id = ? AND level = 'signal' AND period IN (?, 'cumulative')
ORDER BY level, term, drug = 'all', drug, route, period
