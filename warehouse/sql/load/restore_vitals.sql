-- Sessions this load made current again (wins_sessions) after a withdrawal that, in exported_at
-- order, never reached the version now current: the load that withdrew the session loaded an
-- export exported after that version. It took the session out because an older version of it was
-- under a patient that export withdrew (the cascade); in exported_at order this version had moved
-- the session off that patient before. The vital signs that load's cascade took out with the
-- session therefore come back: the version each had then, with this load's lineage (as unparked
-- rows have), so that as_of shows it from this load on. Not those withdrawn for a reason of their
-- own (a full export of vitals that left them out: dated as that export, and the version not its
-- own) nor those with an entry since.
CREATE OR REPLACE TEMP TABLE returned_sessions AS
SELECT w.session_id, h.load_id AS withdrawn_by, l.exported_at AS withdrawn_at, l.export_id AS withdrawn_export
FROM wins_sessions w
JOIN history.sessions h ON h.registry_id = w.registry_id AND h.session_id = w.session_id AND h.op = 'withdraw'
                         AND h.load_id < getvariable('load_id')::BIGINT
JOIN ops.loads l ON l.load_id = h.load_id AND w.exported_at < l.exported_at
WHERE NOT EXISTS (SELECT 1 FROM history.sessions_versions y  -- (the session's latest entry before this load)
                  WHERE y.registry_id = h.registry_id AND y.session_id = h.session_id
                    AND y.load_id < getvariable('load_id')::BIGINT
                    AND (y.exported_at > h.exported_at OR (y.exported_at = h.exported_at AND y.load_id > h.load_id)));

CREATE OR REPLACE TEMP TABLE restore_vitals AS
WITH taken AS (  -- each vital sign that load withdrew, and the version it took out
    SELECT v.* EXCLUDE (op), x.exported_at AS _withdrawal_at, x.load_id AS _withdrawal_load, r.withdrawn_at AS _export_at,
           r.withdrawn_export AS _export
    FROM returned_sessions r
    JOIN history.vitals x ON x.registry_id = getvariable('registry_id') AND x.session_id = r.session_id
                           AND x.op = 'withdraw' AND x.load_id = r.withdrawn_by
    JOIN history.vitals v ON v.registry_id = x.registry_id AND v.session_id = x.session_id AND v.timepoint = x.timepoint
                           AND v.minutes_after_dose IS NOT DISTINCT FROM x.minutes_after_dose
                           AND v.op = 'upsert' AND v.exported_at <= x.exported_at AND v.load_id <= x.load_id
    QUALIFY row_number() OVER (PARTITION BY v.session_id, v.timepoint, v.minutes_after_dose
                               ORDER BY v.exported_at DESC, v.load_id DESC) = 1)
SELECT t.* EXCLUDE (_withdrawal_at, _withdrawal_load, _export_at, _export)
       REPLACE (getvariable('load_id')::BIGINT AS load_id, getvariable('loaded_at')::TIMESTAMPTZ AS loaded_at)
FROM taken t
WHERE (t._withdrawal_at < t._export_at OR t.export_id = t._export)  -- the cascade's (above)
  AND NOT EXISTS (SELECT 1 FROM history.vitals_versions y
                  WHERE y.registry_id = t.registry_id AND y.session_id = t.session_id AND y.timepoint = t.timepoint
                    AND y.minutes_after_dose IS NOT DISTINCT FROM t.minutes_after_dose
                    AND (y.exported_at > t._withdrawal_at
                         OR (y.exported_at = t._withdrawal_at AND y.load_id > t._withdrawal_load)));

INSERT INTO core.vitals BY NAME SELECT * FROM restore_vitals;
