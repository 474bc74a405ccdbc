-- The alerts the load raised per rule, so the report shows what was escalated at the time, month and cumulative.
SELECT rule, period, alerts FROM marts.suicidality_alerts
WHERE registry_id = ? AND period IN (?, 'cumulative')
