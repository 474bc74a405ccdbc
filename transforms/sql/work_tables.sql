-- Per-export work tables that collect across tables.
CREATE OR REPLACE TEMP TABLE q_rows (table_name VARCHAR, source_file VARCHAR, source_row BIGINT, rule VARCHAR,
                                     raw_values VARCHAR);
CREATE OR REPLACE TEMP TABLE alert_rows (table_name VARCHAR, record_id VARCHAR, patient_key VARCHAR, rule VARCHAR);
