-- 0007: history.<t>_as_of(L) when one load wrote both a version of a record and its withdrawal
-- with the same exported_at (a cascade taking out a session the same load made current, a full
-- export's withdrawal dated as the version it retires): the two tied and the version could win,
-- so as_of(L) showed a record core no longer held after L. Within a load the withdrawal comes
-- last (the load retires and cascades after it upserts), so it wins the tie.
CREATE OR REPLACE MACRO history.patients_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.patients_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, patient_key ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
CREATE OR REPLACE MACRO history.sessions_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.sessions_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, session_id ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
CREATE OR REPLACE MACRO history.vitals_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.vitals_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, session_id, timepoint, minutes_after_dose
                               ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
CREATE OR REPLACE MACRO history.assessments_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.assessments_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, assessment_id ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
CREATE OR REPLACE MACRO history.adverse_events_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.adverse_events_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, ae_id ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
CREATE OR REPLACE MACRO history.labs_as_of(l) AS TABLE
    SELECT * EXCLUDE (op) FROM history.labs_versions WHERE load_id <= l
    QUALIFY row_number() OVER (PARTITION BY registry_id, lab_id ORDER BY exported_at DESC, load_id DESC, op = 'withdraw' DESC) = 1
        AND op = 'upsert';
