SELECT registry_id, 'patients' AS "table", count(*) FROM core.patients GROUP BY 1
UNION ALL SELECT registry_id, 'sessions', count(*) FROM core.sessions GROUP BY 1
UNION ALL SELECT registry_id, 'vitals', count(*) FROM core.vitals GROUP BY 1
UNION ALL SELECT registry_id, 'assessments', count(*) FROM core.assessments GROUP BY 1
UNION ALL SELECT registry_id, 'adverse_events', count(*) FROM core.adverse_events GROUP BY 1
UNION ALL SELECT registry_id, 'labs', count(*) FROM core.labs GROUP BY 1
ORDER BY 1, 2;
