-- The safety table: any event, the label groups and the frequent preferred terms (a bound list, ae_rates_top_terms.sql).
-- term::VARCHAR: a mart with no rows (a registry without adverse events) has INTEGER columns.
SELECT * FROM marts.ae_rates
WHERE registry_id = ?
  AND (level IN ('any', 'label_group') OR (level = 'pt' AND list_contains(?::VARCHAR[], term::VARCHAR)))
  AND period IN (?, 'cumulative')
ORDER BY level, term, drug = 'all', drug, route, period
