-- A registry's cumulative total: the sum its sites must match (and the pooled report's 'all sites' row).
SELECT patients, sessions FROM marts.exposure
WHERE registry_id = ? AND period = 'cumulative'
  AND site_id = 'all' AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
