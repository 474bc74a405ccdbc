-- Alerts of every load up to --as-of, whenever raised: each is dated (and cut off) by its record's
-- own event time where the marts use it (int_flags), not by raised_at.
CREATE OR REPLACE TEMP VIEW src_alerts AS
SELECT a.* FROM {alerts_table} a
WHERE a.load_id IN (SELECT load_id FROM {loads_table}
                    WHERE (getvariable('as_of_load') IS NULL OR load_id <= getvariable('as_of_load'))
                      AND (getvariable('registry') IS NULL OR registry_id = getvariable('registry')))
