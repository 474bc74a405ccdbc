-- Lines of {table} that broke at least one error-level rule.
CREATE OR REPLACE TEMP TABLE errors_{table} AS
SELECT DISTINCT _line FROM viol_{table} WHERE severity = 'error';
