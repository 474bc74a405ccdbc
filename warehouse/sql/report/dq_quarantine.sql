-- Rows held back by a validation rule up to the report month: what the figures leave out, and why.
SELECT * FROM marts.dq_quarantine
WHERE (? = 'all' OR registry_id = ?) AND month <= ?
ORDER BY registry_id, month, table_name, rule
