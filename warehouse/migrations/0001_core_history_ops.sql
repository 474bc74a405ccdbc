-- 0001: the public SQL surface. core.* holds the current version of every record; history.*
-- every version ever loaded (and withdrawals), so any past state can be rebuilt; ops.* the ledger.
CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS history;
CREATE SCHEMA IF NOT EXISTS ops;

CREATE SEQUENCE IF NOT EXISTS ops.load_seq START 1;

-- One row per export attempt (loaded, duplicate or rejected). The row of a loaded export is
-- written in the same DuckDB transaction as its data: that is what makes loads exactly-once.
CREATE TABLE ops.loads (
    load_id          BIGINT PRIMARY KEY,
    registry_id      VARCHAR NOT NULL,
    export_id        VARCHAR,
    exported_at      TIMESTAMPTZ,
    mode             VARCHAR,            -- full | incremental
    adapter          VARCHAR NOT NULL,   -- kor | redcap | fhir
    contract         VARCHAR,
    status           VARCHAR NOT NULL,   -- loaded | duplicate | rejected
    reason           VARCHAR,
    content_sha256   VARCHAR,            -- sha256 of the manifest: same bytes, same hash
    source           VARCHAR,            -- where the bundle was read from
    row_counts       JSON,               -- {table: {read, loaded, quarantined, warned, withdrawn, malformed}}
    dropped_columns  JSON,               -- {table: [column, ...]} identifier / unknown columns dropped
    started_at       TIMESTAMPTZ NOT NULL,
    finished_at      TIMESTAMPTZ NOT NULL,
    timings          JSON,               -- {step: seconds}
    flow_run_id      VARCHAR
);

-- One row per rejected row and broken rule. raw_values: the row as it arrived, restricted to the
-- contract's columns, patient_id replaced by its patient_key.
CREATE TABLE ops.quarantine (
    load_id      BIGINT NOT NULL,
    registry_id  VARCHAR NOT NULL,
    export_id    VARCHAR,
    table_name   VARCHAR NOT NULL,
    source_file  VARCHAR,
    source_row   BIGINT,                 -- CSV: line number (header = 1); Parquet/NDJSON: record number
    rule         VARCHAR NOT NULL,
    kahn         VARCHAR,
    description  VARCHAR,
    raw_values   JSON,
    quarantined_at TIMESTAMPTZ NOT NULL
);

-- Every expectation's outcome for every load attempt, kept as history (never overwritten).
CREATE TABLE ops.validation_results (
    load_id          BIGINT NOT NULL,
    registry_id      VARCHAR NOT NULL,
    export_id        VARCHAR,
    table_name       VARCHAR NOT NULL,
    suite            VARCHAR NOT NULL,
    rule             VARCHAR NOT NULL,
    expectation_type VARCHAR NOT NULL,
    kwargs           JSON,
    kahn             VARCHAR,
    severity         VARCHAR NOT NULL,   -- error | warning | alert
    success          BOOLEAN NOT NULL,
    rows_checked     BIGINT,
    rows_failed      BIGINT,
    validated_at     TIMESTAMPTZ NOT NULL
);

-- Clinical alerts raised by loaded rows (alert-severity rules). No patient identifier leaves the
-- warehouse through events; patient_key stays here for clinical follow-up inside the registry.
CREATE TABLE ops.alerts (
    load_id      BIGINT NOT NULL,
    registry_id  VARCHAR NOT NULL,
    export_id    VARCHAR,
    table_name   VARCHAR NOT NULL,
    record_id    VARCHAR,
    patient_key  VARCHAR,
    rule         VARCHAR NOT NULL,
    description  VARCHAR,
    raised_at    TIMESTAMPTZ NOT NULL
);

-- Lineage columns shared by every core and history table:
--   registry_id, load_id, export_id, exported_at, loaded_at, source_file, source_row, warnings
-- history.* adds: op ('upsert' | 'withdraw').

CREATE TABLE history.patients (
    registry_id VARCHAR NOT NULL, patient_key VARCHAR NOT NULL,
    birth_year SMALLINT, age_at_enrolment SMALLINT, sex VARCHAR, zip3 VARCHAR, enrolled_on DATE,
    site_id VARCHAR, trd_failed_trials SMALLINT, diagnosis_icd10 VARCHAR,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

CREATE TABLE history.sessions (
    registry_id VARCHAR NOT NULL, session_id VARCHAR NOT NULL, patient_key VARCHAR,
    session_start TIMESTAMPTZ, drug VARCHAR, route VARCHAR, dose_mg DOUBLE, dose_mg_per_kg DOUBLE,
    weight_kg DOUBLE, infusion_minutes INTEGER, devices INTEGER, setting VARCHAR, monitoring_minutes INTEGER,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

CREATE TABLE history.vitals (
    registry_id VARCHAR NOT NULL, session_id VARCHAR NOT NULL, timepoint VARCHAR NOT NULL,
    minutes_after_dose INTEGER, sbp INTEGER, dbp INTEGER, heart_rate INTEGER, spo2 INTEGER,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

CREATE TABLE history.assessments (
    registry_id VARCHAR NOT NULL, assessment_id VARCHAR NOT NULL, patient_key VARCHAR, session_id VARCHAR,
    assessed_at TIMESTAMPTZ, instrument VARCHAR, total_score INTEGER, item_scores VARCHAR,
    minutes_after_dose INTEGER,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

CREATE TABLE history.adverse_events (
    registry_id VARCHAR NOT NULL, ae_id VARCHAR NOT NULL, patient_key VARCHAR, session_id VARCHAR,
    onset_date DATE, term VARCHAR, meddra_pt VARCHAR, meddra_code VARCHAR, severity VARCHAR,
    serious BOOLEAN, death BOOLEAN, life_threatening BOOLEAN, hospitalization BOOLEAN, disability BOOLEAN,
    congenital_anomaly BOOLEAN, medically_important BOOLEAN, related VARCHAR, outcome VARCHAR,
    resolved_date DATE,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

CREATE TABLE history.labs (
    registry_id VARCHAR NOT NULL, lab_id VARCHAR NOT NULL, patient_key VARCHAR, collected_on DATE,
    test VARCHAR, value DOUBLE, unit VARCHAR, uln DOUBLE,
    op VARCHAR NOT NULL, load_id BIGINT NOT NULL, export_id VARCHAR NOT NULL, exported_at TIMESTAMPTZ NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL, source_file VARCHAR, source_row BIGINT, warnings VARCHAR[]
);

-- core.*: the current version of each record (latest exported_at wins; withdrawn records absent).
-- Same columns as history without op. Maintained by the load transaction.
CREATE TABLE core.patients AS SELECT * EXCLUDE (op) FROM history.patients WITH NO DATA;
CREATE TABLE core.sessions AS SELECT * EXCLUDE (op) FROM history.sessions WITH NO DATA;
CREATE TABLE core.vitals AS SELECT * EXCLUDE (op) FROM history.vitals WITH NO DATA;
CREATE TABLE core.assessments AS SELECT * EXCLUDE (op) FROM history.assessments WITH NO DATA;
CREATE TABLE core.adverse_events AS SELECT * EXCLUDE (op) FROM history.adverse_events WITH NO DATA;
CREATE TABLE core.labs AS SELECT * EXCLUDE (op) FROM history.labs WITH NO DATA;
