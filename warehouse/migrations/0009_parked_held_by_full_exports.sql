-- 0009: parked.<t>_held: the records of <t> a full export held only as parked rows (their version
-- waiting for a parent), with that export's load. A full export withdraws the records it does not
-- hold, so in exported_at order an older version of a record it held parked stays current. Arriving
-- first, it left no trace of holding the record once its parked row was gone (loaded and then taken
-- out by a cascade, replaced by a newer parked version, or never current), and an older version
-- arriving after it stayed out of core (upsert.sql; tests/e2e/arrival_fuzz.py). An existing
-- warehouse knows this of the rows full exports have parked now.
CREATE TABLE parked.sessions_held AS
SELECT p.registry_id, p.session_id, p.load_id FROM parked.sessions p
WHERE p.load_id IN (SELECT load_id FROM ops.loads WHERE mode = 'full');
CREATE TABLE parked.vitals_held AS
SELECT p.registry_id, p.session_id, p.timepoint, p.minutes_after_dose, p.load_id FROM parked.vitals p
WHERE p.load_id IN (SELECT load_id FROM ops.loads WHERE mode = 'full');
CREATE TABLE parked.assessments_held AS
SELECT p.registry_id, p.assessment_id, p.load_id FROM parked.assessments p
WHERE p.load_id IN (SELECT load_id FROM ops.loads WHERE mode = 'full');
CREATE TABLE parked.adverse_events_held AS
SELECT p.registry_id, p.ae_id, p.load_id FROM parked.adverse_events p
WHERE p.load_id IN (SELECT load_id FROM ops.loads WHERE mode = 'full');
CREATE TABLE parked.labs_held AS
SELECT p.registry_id, p.lab_id, p.load_id FROM parked.labs p
WHERE p.load_id IN (SELECT load_id FROM ops.loads WHERE mode = 'full');
