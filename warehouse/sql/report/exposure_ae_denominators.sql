-- The exposure rows an AE denominator cell is tied to when their numbers are equal, so both hide together.
SELECT drug, route, period, patients, sessions FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND dose_band = 'all' AND phase = 'all'
  AND period IN (?, 'cumulative')
