SELECT registry_id, table_name, rule, count(*) AS rows
FROM ops.quarantine
GROUP BY ALL
ORDER BY rows DESC, rule
LIMIT 50;
