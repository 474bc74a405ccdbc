-- Whether the registry (or 'all') had any exposure in the month: no row means no report (NoData).
SELECT count(*) c FROM marts.exposure
WHERE registry_id = ? AND period = ? AND site_id = 'all'
  AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
