-- Adverse events with onset before the first session: left out of the AE rates, so counted here to account for them.
SELECT * FROM marts.dq_pretreatment_ae
WHERE (? = 'all' OR registry_id = ?) AND month <= ?
ORDER BY registry_id, month
