-- A registry's cumulative total, which its sites add up to (and the pooled report shows as 'all sites').
SELECT patients, sessions FROM marts.exposure
WHERE registry_id = ? AND period = 'cumulative'
  AND site_id = 'all' AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
