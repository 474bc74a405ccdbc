-- Only preferred terms with over 10 events (cumulative) get rows of their own, so the safety table stays readable.
SELECT term FROM marts.ae_rates
WHERE registry_id = ? AND level = 'pt' AND drug = 'all' AND period = 'cumulative' AND events > 10
ORDER BY events DESC, term
LIMIT 12
