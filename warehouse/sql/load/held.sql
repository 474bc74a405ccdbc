-- A full export of {table}: the records it holds only as rows waiting for their parent
-- (parking_{table}). It does not withdraw them, and upsert.sql lets an older version of them,
-- arriving after it, become current, as it would have stayed current in exported_at order; the
-- parked row itself may be gone by then (loaded and cascaded, replaced by a newer one).
INSERT INTO parked.{table}_held
SELECT DISTINCT registry_id, {key_cols}, load_id FROM parking_{table};
