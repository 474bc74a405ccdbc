-- The resources the export's deleted files name (fhir_deleted(rtype, id), fhir_deleted.py) -> the
-- records the adapter made of them, keyed as the adapter keys them when it reads the resource:
--   Patient/<id>               patients.patient_id (pseudonymised by the ingest like every patient id)
--   AdverseEvent/<id>          adverse_events.ae_id
--   Observation/<id>           assessments.assessment_id (a score Observation) and labs.lab_id (a lab);
--                              assessments only from an Observation's row (source_row below the
--                              QuestionnaireResponse offset: ids are unique per resource type only)
--   QuestionnaireResponse/<id> assessments.assessment_id, only from a response's row (source_row at or
--                              above the offset); and, as a companion, "<id>#GAD7": the GAD-7 record of
--                              a combined PHQ-9 + GAD-7 response (fhir_qr_companions: suffix and the
--                              lowest source_row of such a record, fhir_questionnaire.companions)
--   Encounter/<id>             sessions.session_id (a session is its Encounter: R4 MedicationAdministration.context),
--                              only a session keyed by an Encounter (source_row below 10^15, fhir_sessions.sql)
--   MedicationAdministration/<id> sessions.session_id "MedicationAdministration/<id>" of a session without
--                              an Encounter, which is keyed by that administration alone (source_row at or
--                              above 10^15); and, as a companion, "<id>" at or above 10^15: such a session
--                              as loaded before it had its own id (fhir_sessions.sql)
-- min_row / max_row bound the source_row of the record's versions, so a record another resource
-- type made under the same id is never taken for it. A vital-sign, weight or PHQ-9 item Observation
-- was merged into other records (a vitals row, a session's weight, a total's item_scores): its id
-- matches no assessment or lab, so nothing is withdrawn for it and the load counts it as not matched.
-- key: the record's id; companion: a record the resource made only if it was of a kind (withdrawn
-- when there, otherwise not reported as missing: the deletion does not say whether it existed).
CREATE OR REPLACE TEMP TABLE fhir_deleted_records AS
SELECT d.rtype, d.id, t.tbl, t.prefix || d.id AS key, t.min_row, t.max_row, t.companion
FROM fhir_deleted d
JOIN (SELECT * FROM (VALUES
        ('Patient', 'patients', '', 0, 9223372036854775807, false),
        ('AdverseEvent', 'adverse_events', '', 0, 9223372036854775807, false),
        ('Observation', 'assessments', '', 0, getvariable('fhir_qr_line_offset')::BIGINT - 1, false),
        ('Observation', 'labs', '', 0, 9223372036854775807, false),
        ('QuestionnaireResponse', 'assessments', '', getvariable('fhir_qr_line_offset')::BIGINT, 9223372036854775807, false),
        ('Encounter', 'sessions', '', 0, getvariable('fhir_qr_line_offset')::BIGINT - 1, false),
        ('MedicationAdministration', 'sessions', 'MedicationAdministration/', getvariable('fhir_qr_line_offset')::BIGINT,
         9223372036854775807, false),
        ('MedicationAdministration', 'sessions', '', getvariable('fhir_qr_line_offset')::BIGINT, 9223372036854775807, true)
     ) v(rtype, tbl, prefix, min_row, max_row, companion)) t USING (rtype)
UNION ALL
SELECT d.rtype, d.id, 'assessments', d.id || c.suffix, c.min_row, 9223372036854775807, true
FROM fhir_deleted d, fhir_qr_companions c
WHERE d.rtype = 'QuestionnaireResponse';

-- Types whose deletion is no record's (counted as skipped with their reason in fhir_deleted.py)
CREATE OR REPLACE TEMP TABLE fhir_deleted_unmapped AS
SELECT rtype, id FROM fhir_deleted WHERE rtype NOT IN (SELECT rtype FROM fhir_deleted_records);

-- The IG: "Resources that appear in the 'deleted' section of an export manifest SHALL NOT appear in
-- the 'output' section". One that does anyway (the resource itself, or the record it maps to, made
-- by this export's output: a session whose encounter is deleted but whose administrations are
-- exported) is kept as the output has it: the output is the state at transactionTime, and a
-- record that exists is never withdrawn on a contradictory listing. Counted as skipped.
CREATE OR REPLACE TEMP TABLE fhir_deleted_in_output AS
SELECT d.rtype, d.id FROM fhir_deleted d
WHERE EXISTS (SELECT 1 FROM fhir_res r WHERE r.rtype = d.rtype AND r.id = d.id)
   OR EXISTS (SELECT 1 FROM fhir_deleted_records t WHERE t.rtype = d.rtype AND t.id = d.id AND (
          (t.tbl = 'patients' AND t.id IN (SELECT patient_id FROM fhir_out_patients))
       OR (t.tbl = 'adverse_events' AND t.id IN (SELECT ae_id FROM fhir_out_adverse_events))
       OR (t.tbl = 'assessments' AND t.key IN (SELECT assessment_id FROM fhir_out_assessments))
       OR (t.tbl = 'labs' AND t.id IN (SELECT lab_id FROM fhir_out_labs))
       OR (t.tbl = 'sessions' AND NOT t.companion AND t.key IN (SELECT session_id FROM fhir_sessions))));

-- deleted_<table>: the records to withdraw, one row per key (an Observation and a
-- QuestionnaireResponse deleted under one id: both bounds; a companion only if no deletion names
-- the key as its own record)
CREATE OR REPLACE TEMP MACRO fhir_deleted_of(t) AS TABLE
    SELECT r.key AS key, min(r.min_row) AS min_row, max(r.max_row) AS max_row, bool_and(r.companion) AS companion
    FROM fhir_deleted_records r
    WHERE r.tbl = t AND NOT EXISTS (SELECT 1 FROM fhir_deleted_in_output o WHERE o.rtype = r.rtype AND o.id = r.id)
    GROUP BY r.key;
CREATE OR REPLACE TEMP TABLE deleted_patients AS FROM fhir_deleted_of('patients');
CREATE OR REPLACE TEMP TABLE deleted_sessions AS FROM fhir_deleted_of('sessions');
CREATE OR REPLACE TEMP TABLE deleted_assessments AS FROM fhir_deleted_of('assessments');
CREATE OR REPLACE TEMP TABLE deleted_adverse_events AS FROM fhir_deleted_of('adverse_events');
CREATE OR REPLACE TEMP TABLE deleted_labs AS FROM fhir_deleted_of('labs');
