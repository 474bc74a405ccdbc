-- The warning and alert rules each loaded row of {table} broke, kept with the row. Not the
-- relational ones (`<table>.session_id.exists`, a warning for assessments and adverse events):
-- whether a reference resolves depends on which exports have loaded, so a flag kept with the row
-- went stale when the session arrived later, and differed with the arrival order. The load's
-- validation results keep their counts; a join to core.sessions gives the current answer.
CREATE OR REPLACE TEMP TABLE warn_{table} AS
SELECT _line, list(DISTINCT rule ORDER BY rule) AS warnings
FROM viol_{table} WHERE severity IN ('warning', 'alert') AND rule NOT LIKE '%.exists'
GROUP BY _line;
