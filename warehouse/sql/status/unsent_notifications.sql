-- Loads whose events `outcomes serve` has not sent yet (ops.outbox): usually none; rows that stay
-- mean the Prefect API was unreachable or the service has not run since a crash.
SELECT registry_id, instance, count(*) AS loads,
       strftime(min(queued_at), '%Y-%m-%d %H:%M:%S') AS oldest_queued
FROM ops.outbox
WHERE sent_at IS NULL
GROUP BY ALL
ORDER BY registry_id, instance;
