-- The warning and alert rules each loaded row of {table} broke, kept with the row.
CREATE OR REPLACE TEMP TABLE warn_{table} AS
SELECT _line, list(DISTINCT rule ORDER BY rule) AS warnings
FROM viol_{table} WHERE severity IN ('warning', 'alert')
GROUP BY _line;
