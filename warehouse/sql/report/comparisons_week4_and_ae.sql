-- The comparisons the report prints: week-4 response and AE patients with event, the rest stay in the mart.
SELECT * FROM marts.comparisons
WHERE registry_id = ? AND (measure LIKE '%week 4' OR measure LIKE '%: patients with event')
ORDER BY comparison DESC, measure, "group"
