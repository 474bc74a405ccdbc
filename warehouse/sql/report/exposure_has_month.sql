-- A month with no exposure has nothing to report: a count of 0 makes the report stop with NoData.
SELECT count(*) c FROM marts.exposure
WHERE registry_id = ? AND period = ? AND site_id = 'all'
  AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
