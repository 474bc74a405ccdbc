-- The export's quarantined rows (q_rows: one per row and broken rule) with their rule's Kahn
-- category and description. Parameters: load id, registry, export, written at.
INSERT INTO wh.ops.quarantine
SELECT ?, ?, ?, q.table_name, q.source_file, q.source_row, q.rule, r.kahn, r.description, q.raw_values::JSON, ?
FROM q_rows q
LEFT JOIN _rule_meta r ON r.rule = q.rule;
