-- 0005: the time zone an export's local times were read in (`--timezone`, a registry's
-- `timezone` in outcomes.toml; UTC when none was given). Reports date sessions and assessments by
-- their registry's local calendar (reports/sources.py): the latest loaded export's zone wins.
-- Loads from before this migration have none, which reads as UTC.
ALTER TABLE ops.loads ADD COLUMN timezone VARCHAR;
