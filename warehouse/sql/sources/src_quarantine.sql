-- Quarantined rows of the loads in src_loads, dated by their export's data time.
CREATE OR REPLACE TEMP VIEW src_quarantine AS
SELECT q.*, l.data_at FROM {quarantine_table} q JOIN src_loads l USING (load_id)
