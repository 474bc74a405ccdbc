-- Adverse events with onset before the first session are left out of the AE rates: counted here so none vanish unseen.
SELECT * FROM marts.dq_pretreatment_ae
WHERE (? = 'all' OR registry_id = ?) AND month <= ?
ORDER BY registry_id, month
