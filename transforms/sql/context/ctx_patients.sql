-- The patients rows of this export may refer to: this export's valid patients, then the
-- registry's current patients in the warehouse (attached read-only as wh).
CREATE OR REPLACE TEMP TABLE ctx_patients AS
SELECT patient_key, enrolled_on FROM out_patients
UNION ALL
SELECT c.patient_key, c.enrolled_on FROM wh.core.patients c
WHERE c.registry_id = getvariable('registry_id')
  AND c.patient_key NOT IN (SELECT patient_key FROM out_patients);
