-- One recorded report; its id is the next one (the caller holds the only write transaction).
INSERT INTO ops.publications (report_id, month, scope, as_of_load, last_load_id, generated_at, figures, suppressed,
                              html, code_version)
SELECT coalesce(max(report_id), 0) + 1, ?, ?, ?, ?, ?::TIMESTAMPTZ, ?, ?, ?, ?
FROM ops.publications
RETURNING report_id
