-- Cumulative patients and sessions per site (every registry's in the pooled report): the sites add up to their registry.
SELECT registry_id, site_id, patients, sessions FROM marts.exposure e
WHERE period = 'cumulative' AND site_id <> 'all' AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
  AND (? = 'all' OR registry_id = ?)
ORDER BY 1, 2
