-- 0008: rows no longer keep the warnings `assessments.session_id.exists` and
-- `adverse_events.session_id.exists` (transforms/sql/split/warnings.sql): whether a session
-- reference resolves depends on which exports have loaded, so the flag went stale when the session
-- arrived later and differed with the arrival order. Rows loaded before take them off too, so that
-- old and new rows say the same; the loads' validation results keep the counts.
UPDATE core.assessments SET warnings = nullif(list_filter(warnings, w -> w <> 'assessments.session_id.exists'), [])
WHERE list_contains(warnings, 'assessments.session_id.exists');
UPDATE history.assessments SET warnings = nullif(list_filter(warnings, w -> w <> 'assessments.session_id.exists'), [])
WHERE list_contains(warnings, 'assessments.session_id.exists');
UPDATE parked.assessments SET warnings = nullif(list_filter(warnings, w -> w <> 'assessments.session_id.exists'), [])
WHERE list_contains(warnings, 'assessments.session_id.exists');
UPDATE core.adverse_events SET warnings = nullif(list_filter(warnings, w -> w <> 'adverse_events.session_id.exists'), [])
WHERE list_contains(warnings, 'adverse_events.session_id.exists');
UPDATE history.adverse_events SET warnings = nullif(list_filter(warnings, w -> w <> 'adverse_events.session_id.exists'), [])
WHERE list_contains(warnings, 'adverse_events.session_id.exists');
UPDATE parked.adverse_events SET warnings = nullif(list_filter(warnings, w -> w <> 'adverse_events.session_id.exists'), [])
WHERE list_contains(warnings, 'adverse_events.session_id.exists');
