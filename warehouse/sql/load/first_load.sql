-- The registry's first rows of {table}: nothing to supersede, every version is current, so the
-- rows go straight to core (one write, no intermediate table).
INSERT INTO core.{table} BY NAME SELECT * FROM new_{table};
