-- The patients rows of this export may refer to: this export's valid patients, then the
-- registry's current patients in the warehouse (attached read-only as wh) that will still be
-- current after it: a full export carrying patients withdraws those it does not hold, so their
-- sessions and scores here would be orphans in core.
CREATE OR REPLACE TEMP TABLE ctx_patients AS
SELECT patient_key, enrolled_on FROM out_patients
UNION ALL
SELECT c.patient_key, c.enrolled_on FROM wh.core.patients c
WHERE c.registry_id = getvariable('registry_id')
  AND c.patient_key NOT IN (SELECT patient_key FROM out_patients)
  AND (NOT list_contains(coalesce(getvariable('withdrawing'), []::VARCHAR[]), 'patients')
       OR c.patient_key IN (SELECT patient_key FROM keys_patients));
