-- The summary's patients, sessions and patient-years are the exposure table's 'all groups' rows, so they hide with them.
SELECT period, patients, sessions, patient_years FROM marts.exposure
WHERE registry_id = ? AND site_id = 'all' AND drug = 'all' AND dose_band = 'all' AND phase = 'all'
  AND period IN (?, 'cumulative')
