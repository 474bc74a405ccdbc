-- Each treatment group's AE denominators (patients exposed, sessions), one cell per group and period.
SELECT DISTINCT drug, route, period, patients_exposed, sessions FROM marts.ae_rates
WHERE registry_id = ? AND period IN (?, 'cumulative')
