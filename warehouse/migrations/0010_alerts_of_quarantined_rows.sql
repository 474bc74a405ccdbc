-- 0010: ops.alerts.quarantined: the alert was raised by a row that went to quarantine. A reading
-- outside the contract's range is rejected (SpO2 45 %, SBP 320) and a PHQ-9 whose items do not add
-- up to its total is quarantined, yet what the row says may be the most urgent thing in the export
-- (a desaturation, item 9 >= 1): the alert is raised all the same (transforms/sql/split/alerts.sql),
-- marked, so the safety officer knows the record is not in core until the registry corrects it.
-- Alerts raised before were all raised by loaded rows.
ALTER TABLE ops.alerts ADD COLUMN quarantined BOOLEAN DEFAULT false;
