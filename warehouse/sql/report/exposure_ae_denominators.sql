-- The exposure rows the AE denominator cells are tied to when their numbers are equal (hidden together).
SELECT drug, route, period, patients, sessions FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND dose_band = 'all' AND phase = 'all'
  AND period IN (?, 'cumulative')
