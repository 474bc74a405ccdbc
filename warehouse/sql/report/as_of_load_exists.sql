-- `outcomes report --as-of`: refuse a load id the warehouse never had before building anything.
SELECT count(*) FROM ops.loads WHERE load_id = ?
