-- Rows waiting for their parent (parked.*, migration 0006): quarantined only because the patient
-- (a vital sign's session) was not current yet; they load once a load brings it.
SELECT registry_id, 'sessions' AS "table", count(*) AS rows, min(export_id) AS oldest_export FROM parked.sessions GROUP BY ALL
UNION ALL SELECT registry_id, 'vitals', count(*), min(export_id) FROM parked.vitals GROUP BY ALL
UNION ALL SELECT registry_id, 'assessments', count(*), min(export_id) FROM parked.assessments GROUP BY ALL
UNION ALL SELECT registry_id, 'adverse_events', count(*), min(export_id) FROM parked.adverse_events GROUP BY ALL
UNION ALL SELECT registry_id, 'labs', count(*), min(export_id) FROM parked.labs GROUP BY ALL
ORDER BY registry_id, "table";
