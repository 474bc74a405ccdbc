-- Each route's cumulative breakdown by {dim} (dose_band or phase; {other} held at 'all'): its rows add up to the route's sessions.
SELECT drug, route, {dim} AS v, patients, sessions, patient_years FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND period = 'cumulative' AND drug <> 'all' AND {dim} <> 'all'
  AND {other} = 'all'
ORDER BY 1, 2, 3
