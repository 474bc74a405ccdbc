-- The patients whose ids free text may name: this export's, and any the warehouse holds or has
-- held for this registry (core: current versions; history: those displaced or withdrawn); and
-- the free-text stretches (pk_text, keyed by transforms/free_text.py) that are one of their ids.
CREATE OR REPLACE TEMP TABLE known_keys AS
SELECT patient_key FROM pk_map
UNION SELECT patient_key FROM wh.core.patients WHERE registry_id = getvariable('registry_id')
UNION SELECT patient_key FROM wh.history.patients WHERE registry_id = getvariable('registry_id');

CREATE OR REPLACE TEMP TABLE id_tokens AS
SELECT DISTINCT t.value, t.token
FROM pk_text t
WHERE t.patient_key IN (SELECT patient_key FROM known_keys);
