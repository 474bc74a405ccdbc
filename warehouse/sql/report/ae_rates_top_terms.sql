-- The preferred terms frequent enough (over 10 events, cumulative) to get rows of their own in the safety table.
SELECT term FROM marts.ae_rates
WHERE registry_id = ? AND level = 'pt' AND drug = 'all' AND period = 'cumulative' AND events > 10
ORDER BY events DESC, term
LIMIT 12
