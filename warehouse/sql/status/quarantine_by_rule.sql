-- Rows quarantined by the loads that loaded: a rejected attempt's rows stay in ops.quarantine to
-- say why it was rejected, but counted here they would add up again with every retry of it.
SELECT q.registry_id, q.table_name, q.rule, count(*) AS rows
FROM ops.quarantine q
SEMI JOIN ops.loads l ON l.load_id = q.load_id AND l.status = 'loaded'
GROUP BY ALL
ORDER BY rows DESC, q.rule;
