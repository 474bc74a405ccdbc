-- 0002: reading the warehouse as it stood after any load.
-- core.<t> holds each record's current version; history.<t> every other version (superseded,
-- arrived late) and every withdrawal (op = 'withdraw'). history.<t>_versions is all of them;
-- history.<t>_as_of(L) is <t> as it stood right after load L: among versions loaded by L, the
-- latest exported_at wins (ties: the later load), and a withdrawal means the record is gone.
CREATE VIEW history.patients_versions AS
    SELECT *, 'upsert' AS op FROM core.patients UNION ALL BY NAME SELECT * FROM history.patients;
CREATE VIEW history.sessions_versions AS
    SELECT *, 'upsert' AS op FROM core.sessions UNION ALL BY NAME SELECT * FROM history.sessions;
CREATE VIEW history.vitals_versions AS
    SELECT *, 'upsert' AS op FROM core.vitals UNION ALL BY NAME SELECT * FROM history.vitals;
CREATE VIEW history.assessments_versions AS
    SELECT *, 'upsert' AS op FROM core.assessments UNION ALL BY NAME SELECT * FROM history.assessments;
CREATE VIEW history.adverse_events_versions AS
    SELECT *, 'upsert' AS op FROM core.adverse_events UNION ALL BY NAME SELECT * FROM history.adverse_events;
CREATE VIEW history.labs_versions AS
    SELECT *, 'upsert' AS op FROM core.labs UNION ALL BY NAME SELECT * FROM history.labs;

CREATE MACRO history.patients_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.patients_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, patient_key ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
CREATE MACRO history.sessions_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.sessions_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, session_id ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
CREATE MACRO history.vitals_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.vitals_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, session_id, timepoint, minutes_after_dose
                               ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
CREATE MACRO history.assessments_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.assessments_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, assessment_id ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
CREATE MACRO history.adverse_events_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.adverse_events_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, ae_id ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
CREATE MACRO history.labs_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.labs_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, lab_id ORDER BY exported_at DESC, load_id DESC) = 1
        AND op = 'upsert';
