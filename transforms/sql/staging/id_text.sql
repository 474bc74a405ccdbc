-- The free-text tokens (pk_text, keyed by transforms/pseudonymise.py) that are a patient's id: one
-- of this export's patients, or any the warehouse holds or has held for this registry (core: the
-- current versions; history: those displaced or withdrawn). Few rows: one per distinct value and
-- word.
CREATE OR REPLACE TEMP TABLE id_tokens AS
SELECT DISTINCT t.value, t.token
FROM pk_text t
WHERE t.patient_key IN (SELECT patient_key FROM pk_map)
   OR t.patient_key IN (SELECT patient_key FROM wh.core.patients WHERE registry_id = getvariable('registry_id'))
   OR t.patient_key IN (SELECT patient_key FROM wh.history.patients WHERE registry_id = getvariable('registry_id'));
