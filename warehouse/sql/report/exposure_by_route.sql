-- The exposure table by drug and route, 'all groups' last: the routes' sessions add up to it.
SELECT * FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND dose_band = 'all' AND phase = 'all'
  AND period IN (?, 'cumulative')
ORDER BY drug = 'all', drug, route
