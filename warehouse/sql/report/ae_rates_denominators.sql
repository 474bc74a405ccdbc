-- Each treatment group's AE denominators (patients exposed, sessions): one cell, shared by every AE row of the group.
SELECT DISTINCT drug, route, period, patients_exposed, sessions FROM marts.ae_rates
WHERE registry_id = ? AND period IN (?, 'cumulative')
