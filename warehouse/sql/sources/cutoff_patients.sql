-- A patient exists by the cutoff if enrolled or treated by then: the contract allows sessions from
-- enrolled_on - 30 days, so one enrolled after the cutoff may have sessions before it, and its site
-- (int_patient_keys) must not become 'unknown'. Such sessions start at most 30 days before the
-- cutoff: only those are looked at (a scan of the last 30 days of src_sessions, not a second pass
-- over all of them).
SELECT * FROM ({body})
WHERE getvariable('cutoff') IS NULL OR {column} < getvariable('cutoff')
   OR (registry_id, patient_key) IN (SELECT registry_id, patient_key FROM src_sessions
                                     WHERE session_start >= getvariable('cutoff') - INTERVAL 30 DAY)
