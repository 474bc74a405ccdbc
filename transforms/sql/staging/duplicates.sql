-- dup_{table}: the record keys of {table} that occur more than once in this export, with their
-- count (staging joins it into _key_count). Counted on the raw text (cheaper than on the typed
-- rows), exactly but only for keys whose 64-bit hash repeats: grouping integers is ~2x faster than
-- grouping 10M distinct strings. Not materialised: the key text is recomputed rather than held.
CREATE OR REPLACE TEMP TABLE dup_{table} AS
WITH keyed AS NOT MATERIALIZED (SELECT {key_exprs} FROM raw_{table})
SELECT *, count(*) AS _n
FROM keyed
WHERE {key_first} IS NOT NULL
  AND hash({key_names}) IN (SELECT h FROM (SELECT hash({key_names}) AS h FROM keyed) GROUP BY h HAVING count(*) > 1)
GROUP BY ALL HAVING count(*) > 1;
