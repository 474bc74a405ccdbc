-- Lines of {table} that broke at least one error-level rule.
CREATE OR REPLACE TEMP TABLE errors_{table} AS
SELECT DISTINCT _line FROM viol_{table} WHERE severity = 'error';

-- Lines whose only error-level breaks are a missing parent ({table}.<column>.exists): their rows
-- are kept typed (park_{table}, stage.conform_table) and load once the parent is current
-- (warehouse/load.py, parked.{table}).
CREATE OR REPLACE TEMP TABLE parkable_{table} AS
SELECT _line FROM viol_{table} WHERE severity = 'error' GROUP BY _line HAVING bool_and(rule LIKE '%.exists');
