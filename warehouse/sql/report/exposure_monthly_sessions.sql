-- Each group's months up to the report's: the sessions chart, and the parts that add up to the cumulative row.
SELECT period, drug, route, drug || ' ' || route AS grp, sessions, patients FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND dose_band = 'all' AND phase = 'all' AND drug <> 'all'
  AND period <> 'cumulative' AND period <= ?
ORDER BY period, grp
