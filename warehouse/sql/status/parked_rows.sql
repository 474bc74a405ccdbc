-- Rows waiting for their parent (parked.*, migration 0006): quarantined only because the patient
-- (a vital sign's session) was not current yet; they load once a load brings it.
-- oldest_export: the parked rows' export with the earliest exported_at (export ids need not sort).
SELECT registry_id, 'sessions' AS "table", count(*) AS rows, arg_min(export_id, exported_at) AS oldest_export FROM parked.sessions GROUP BY ALL
UNION ALL SELECT registry_id, 'vitals', count(*), arg_min(export_id, exported_at) FROM parked.vitals GROUP BY ALL
UNION ALL SELECT registry_id, 'assessments', count(*), arg_min(export_id, exported_at) FROM parked.assessments GROUP BY ALL
UNION ALL SELECT registry_id, 'adverse_events', count(*), arg_min(export_id, exported_at) FROM parked.adverse_events GROUP BY ALL
UNION ALL SELECT registry_id, 'labs', count(*), arg_min(export_id, exported_at) FROM parked.labs GROUP BY ALL
ORDER BY registry_id, "table";
