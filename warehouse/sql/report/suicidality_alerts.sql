-- The alerts the load raised, per rule: shows what was escalated at the time, not recomputed from today's data.
SELECT rule, period, alerts FROM marts.suicidality_alerts
WHERE registry_id = ? AND period IN (?, 'cumulative')
