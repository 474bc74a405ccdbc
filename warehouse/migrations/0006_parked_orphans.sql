-- 0006: rows quarantined only because their parent was not current yet (a session whose patient,
-- a vital sign whose session, a score, AE or lab whose patient, the warehouse did not hold): kept
-- typed and pseudonymised as core keeps them, and loaded, by the rules every version follows, by
-- the first load after which the parent is current (warehouse/load.py: _unpark). An export that
-- arrives before the one bringing the parent (out of order) thus loses nothing. Their quarantine
-- rows stay in ops.quarantine as what happened at their own load.
CREATE SCHEMA IF NOT EXISTS parked;
CREATE TABLE parked.sessions AS SELECT * FROM core.sessions WITH NO DATA;
CREATE TABLE parked.vitals AS SELECT * FROM core.vitals WITH NO DATA;
CREATE TABLE parked.assessments AS SELECT * FROM core.assessments WITH NO DATA;
CREATE TABLE parked.adverse_events AS SELECT * FROM core.adverse_events WITH NO DATA;
CREATE TABLE parked.labs AS SELECT * FROM core.labs WITH NO DATA;
-- The alerts those rows would have raised (table, record, rule), raised when they load.
CREATE TABLE parked.alerts (registry_id VARCHAR NOT NULL, table_name VARCHAR NOT NULL, record_id VARCHAR,
                            rule VARCHAR NOT NULL);
