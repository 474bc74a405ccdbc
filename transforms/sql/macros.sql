-- Strict parsers for the contract's text: a value either parses exactly or stays NULL, and
-- unparsed() returns the raw text that failed, which the suites' type rules then see.
CREATE OR REPLACE TEMP MACRO txt(x) AS NULLIF(trim(x), '');
CREATE OR REPLACE TEMP MACRO as_int(x) AS
    CASE WHEN regexp_full_match(txt(x), '[+-]?[0-9]{1,9}') THEN CAST(txt(x) AS INTEGER) END;
CREATE OR REPLACE TEMP MACRO as_double(x) AS
    CASE WHEN regexp_full_match(txt(x), '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?')
         THEN CAST(txt(x) AS DOUBLE) END;
-- Dates and datetimes: DuckDB's cast reads ISO 8601; the shape check (YYYY-MM-DD first) keeps
-- out the other spellings it would also accept, such as 2025-1-1. Cheaper than a regex.
CREATE OR REPLACE TEMP MACRO iso_day(x) AS length(x) >= 10 AND x[5] = '-' AND x[8] = '-' AND x[1:4] ~ '[0-9]{4}';
CREATE OR REPLACE TEMP MACRO as_date(x) AS
    CASE WHEN length(txt(x)) = 10 AND iso_day(txt(x)) THEN TRY_CAST(txt(x) AS DATE) END;
-- No offset = the registry's local time: the load connection's TimeZone is the registry's.
CREATE OR REPLACE TEMP MACRO as_ts(x) AS
    CASE WHEN iso_day(txt(x)) AND (length(txt(x)) = 10 OR txt(x)[11] IN ('T', ' '))
         THEN TRY_CAST(txt(x) AS TIMESTAMPTZ) END;
CREATE OR REPLACE TEMP MACRO as_flag(x) AS CASE txt(x) WHEN '1' THEN true WHEN '0' THEN false END;
CREATE OR REPLACE TEMP MACRO unparsed(x, v) AS CASE WHEN txt(x) IS NOT NULL AND v IS NULL THEN txt(x) END;
