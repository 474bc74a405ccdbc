-- Per-export work tables that collect across tables.
CREATE OR REPLACE TEMP TABLE q_rows (table_name VARCHAR, source_file VARCHAR, source_row BIGINT, rule VARCHAR,
                                     raw_values VARCHAR);
-- The parent keys a full export holds (split/keys.sql replaces them); empty for other exports, so
-- the context SQL can name them whatever the mode.
CREATE OR REPLACE TEMP TABLE keys_patients (patient_key VARCHAR);
CREATE OR REPLACE TEMP TABLE keys_sessions (session_id VARCHAR);
CREATE OR REPLACE TEMP TABLE alert_rows (table_name VARCHAR, record_id VARCHAR, patient_key VARCHAR, rule VARCHAR,
                                          quarantined BOOLEAN);
-- The alerts of rows parked for a missing parent: raised when those rows load (warehouse/load.py).
CREATE OR REPLACE TEMP TABLE park_alert_rows (table_name VARCHAR, record_id VARCHAR, rule VARCHAR);
