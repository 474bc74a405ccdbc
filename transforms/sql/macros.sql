-- Strict parsers for the contract's text: a value either parses exactly or stays NULL, and
-- unparsed() marks the text that failed, which the suites' type rules then see.
-- They run on every value of every row (10M+ per export), so each is written for its common
-- case: trim() copies the string, so txt() trims only a value that starts or ends with a space
-- or holds a non-ASCII character (trim() also strips Unicode spaces such as U+00A0);
-- GLOB is ~4x cheaper than a regex for a fixed shape. tests/unit/test_macros.py checks them
-- against the plain definitions (NULLIF(trim(x), ''), regexes) on generated text.
CREATE OR REPLACE TEMP MACRO txt(x) AS
    CASE WHEN x = '' THEN NULL
         WHEN starts_with(x, ' ') OR ends_with(x, ' ') OR strlen(x) <> length(x) THEN NULLIF(trim(x), '')
         ELSE x END;
CREATE OR REPLACE TEMP MACRO int_of(t) AS
    CASE WHEN regexp_full_match(t, '[+-]?[0-9]{1,9}') THEN CAST(t AS INTEGER) END;
CREATE OR REPLACE TEMP MACRO as_int(x) AS int_of(txt(x));
-- A finite number only: 1e999 would parse as infinity and compare above every range.
CREATE OR REPLACE TEMP MACRO double_of(t) AS
    CASE WHEN regexp_full_match(t, '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]{1,3})?')
              AND isfinite(CAST(t AS DOUBLE))
         THEN CAST(t AS DOUBLE) END;
CREATE OR REPLACE TEMP MACRO as_double(x) AS double_of(txt(x));
-- Dates and datetimes: DuckDB's cast reads ISO 8601; the shape check (YYYY-MM-DD first) keeps
-- out the other spellings it would also accept, such as 2025-1-1.
CREATE OR REPLACE TEMP MACRO iso_day(t) AS length(t) >= 10 AND t GLOB '[0-9][0-9][0-9][0-9]-??-*';
CREATE OR REPLACE TEMP MACRO date_of(t) AS
    CASE WHEN length(t) = 10 AND iso_day(t) THEN TRY_CAST(t AS DATE) END;
CREATE OR REPLACE TEMP MACRO as_date(x) AS date_of(txt(x));
-- No offset = the registry's local time: the load connection's TimeZone is the registry's.
CREATE OR REPLACE TEMP MACRO ts_of(t) AS
    CASE WHEN iso_day(t) AND (length(t) = 10 OR t[11] IN ('T', ' ')) THEN TRY_CAST(t AS TIMESTAMPTZ) END;
CREATE OR REPLACE TEMP MACRO as_ts(x) AS ts_of(txt(x));
CREATE OR REPLACE TEMP MACRO as_flag(x) AS CASE txt(x) WHEN '1' THEN true WHEN '0' THEN false END;
-- True where text was there but failed (NULL otherwise). A flag, not the text: staging holds one per
-- typed column for every row, and the rows' text stays in raw_<table> for the quarantine.
CREATE OR REPLACE TEMP MACRO unparsed(x, v) AS CASE WHEN v IS NULL AND txt(x) IS NOT NULL THEN true END;
-- A timestamp's calendar day in the session's TimeZone. In UTC (the default) it is computed from
-- the microseconds since the epoch: 0.08 s per 10M values against 0.64 s for ICU's cast.
CREATE OR REPLACE TEMP MACRO day_of(ts) AS
    CASE WHEN current_setting('TimeZone') IN ('UTC', 'Etc/UTC')
         THEN DATE '1970-01-01' + CAST((epoch_us(ts) - ((epoch_us(ts) % 86400000000) + 86400000000) % 86400000000)
                                       // 86400000000 AS INTEGER)
         ELSE ts::DATE END;
-- What a limited data set may keep of a ZIP code: its first 3 digits, the sparsely populated
-- prefixes as 000 (HHS de-identification guidance, 2010 Census list).
CREATE OR REPLACE TEMP MACRO zip3_of(t) AS
    CASE WHEN left(t, 3) IN ('036', '059', '102', '202', '203', '204', '205', '369', '556', '692',
                             '753', '772', '821', '823', '878', '879', '884', '893')
         THEN '000' ELSE left(t, 3) END;
-- The shapes of catalogue.py's patients.zip.format and patients.diagnosis_icd10.format (warnings):
-- a value of another shape is stored as NULL, not as text (a 4-digit ZIP's first 3 digits are not
-- its prefix; a malformed diagnosis may be free text, which could name a person).
CREATE OR REPLACE TEMP MACRO zip_shaped(t) AS regexp_full_match(t, '[0-9]{3}([0-9]{2}(-[0-9]{4})?)?');
CREATE OR REPLACE TEMP MACRO icd10_shaped(t) AS regexp_full_match(t, '[A-Z][0-9]{2}([.][0-9A-Z]{1,4})?');
-- The quarantine keeps a row's values as they arrived, but not a full ZIP or birth date (contract
-- section 5): the ZIP as zip3_of, a birth date as its year, withheld when not a year or when the
-- patient is 90 or older at the export (the warehouse withholds birth years from 90 on).
CREATE OR REPLACE TEMP MACRO q_zip(x) AS zip3_of(txt(x));
CREATE OR REPLACE TEMP MACRO q_birth(x) AS
    CASE WHEN txt(x) IS NULL THEN NULL
         WHEN NOT regexp_full_match(left(txt(x), 4), '[0-9]{4}') THEN '(withheld: not a year)'
         WHEN year(getvariable('exported_at')::TIMESTAMPTZ) - CAST(left(txt(x), 4) AS INTEGER) >= 90
              THEN '(withheld: 90 or older)'
         ELSE left(txt(x), 4) END;
-- A malformed line's value, whose column cannot be trusted (a field left out or one too many
-- shifts a birth date or ZIP under another column's name): reduced by its shape instead, in every
-- column. A date or what may be a birth year as q_birth, a ZIP (or ZIP+4) as q_zip.
CREATE OR REPLACE TEMP MACRO q_shape(x) AS
    CASE WHEN regexp_full_match(txt(x), '[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}([T ].*)?|(1[89]|20)[0-9]{2}')
              THEN q_birth(x)
         WHEN regexp_full_match(txt(x), '[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4}') THEN q_birth(right(txt(x), 4))
         WHEN regexp_full_match(txt(x), '[0-9]{5}(-[0-9]{4})?') THEN q_zip(x)
         ELSE x END;
-- Free text (an adverse event's term, a site name, a lab unit, a quarantined value) may hold what
-- identifies a person. What a pattern can tell is replaced before anything is stored: an email,
-- also written 'ivy(at)host(dot)org' or 'ivy [at] host [dot] org'; a US SSN with dashes, dots or
-- spaces (no word boundaries: one run into other text is still one), or a number of 9+ digits
-- standing alone (an undashed SSN or phone number, an account number; a record id such as
-- A0111253458637, digits run into letters, is not one); a phone number with separators, or
-- international ('+' and a country code: '+47 412 34 567'); an IPv4 address; an IPv6 address
-- (eight groups, or shortened with '::'; times such as 09:40:00 are neither); an MRN ('MRN' and
-- an id holding a digit: 'MRN AB12345'), and 'MR#' or 'Med Rec' and a number of 5+ digits (a
-- shorter one may be a count: 'med rec: 3 drugs'); a URL of any scheme or 'www.'; a bare host
-- name under a common top-level domain. Names and street addresses cannot be told by a pattern
-- (README: free text). The report and the CLI use this same pattern (transforms/redaction.py
-- reads it from here); RE2 and Python's re read it alike (tests/unit/test_macros.py).
CREATE OR REPLACE TEMP MACRO identifier_re() AS
    '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}'
    || '|[A-Za-z0-9._%+-]+(?: *[\[({] *(?i:at) *[\])}] *|@)[A-Za-z0-9-]+'
    || '(?:(?: *[\[({] *(?i:dot) *[\])}] *|\.)[A-Za-z0-9-]+)*(?: *[\[({] *(?i:dot) *[\])}] *|\.)[A-Za-z]{2,}'
    || '|[0-9]{3}[-. ][0-9]{2}[-. ][0-9]{4}|\b[0-9]{9,}\b'
    || '|\+[0-9]{1,3}[ .-]?\(?[0-9]{1,4}\)?(?:[ .-]?[0-9]{2,4}){2,4}'
    || '|\(?[0-9]{3}\)?[ .-]?[0-9]{3}[ .-][0-9]{4}|[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}'
    || '|(?i:\b(?:[0-9a-f]{1,4}:){7}[0-9a-f]{1,4}\b|\b(?:[0-9a-f]{1,4}:){1,6}:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,5}\b)'
    || '|(?i:mrn)[ #:.-]*[A-Za-z0-9-]*[0-9][A-Za-z0-9-]*'
    || '|(?i:mr *#|\bmed(?:ical|\.)? *rec(?:ord)?s?\.?(?: *(?:no|nr|num|number)\b\.?)?)[ #:.-]*[A-Za-z-]*[0-9]{5,}[A-Za-z0-9-]*'
    || '|(?i:[a-z][a-z0-9+.-]*://|www\.)[^ ]+'
    || '|(?i:[a-z0-9-]+\.)+(?i:com|org|net|edu|gov|mil|info|biz|io|us|uk|ca|au|de|fr|nl|no|se|dk|ch|example)\b';
CREATE OR REPLACE TEMP MACRO has_identifier(t) AS regexp_matches(t, identifier_re());
-- Twice: a replacement can leave a number standing alone that was run into the one replaced
-- ('987-65-4329987654329': the SSN, then the 9 digits after it).
CREATE OR REPLACE TEMP MACRO redact(t) AS
    CASE WHEN regexp_matches(t, identifier_re())
         THEN regexp_replace(regexp_replace(t, identifier_re(), '[redacted]', 'g'), identifier_re(), '[redacted]', 'g')
         ELSE t END;
-- A value of a coded, number or date column that failed its rule: no valid one holds two words,
-- so one that does (a name typed into `sex`, 'called Ann Smith at home' as an outcome) is text a
-- pattern cannot vouch for and is withheld; a single word ('female', 'forty') is kept, as
-- redact() keeps it, so the registry can see what it sent.
CREATE OR REPLACE TEMP MACRO q_code(x) AS
    CASE WHEN regexp_matches(x, '[A-Za-z]{2,}[^A-Za-z0-9]+[A-Za-z]{2,}') THEN '(withheld: words in a coded column)'
         ELSE redact(x) END;
-- Free text holding a patient's id (an AE term 'KOR-000123 fell'): the table id_text maps each
-- such value (as txt() gives it) to the value with the ids replaced (transforms/free_text.py, per
-- export; created empty here, as the macros bind to it). A lookup per row: DuckDB joins it (a
-- hash join; a MAP variable was scanned whole per lookup, 18 s per 1M rows at 5,000 entries).
CREATE TEMP TABLE IF NOT EXISTS id_text (value VARCHAR, clean VARCHAR);
CREATE OR REPLACE TEMP MACRO unid(t) AS coalesce((SELECT i.clean FROM id_text i WHERE i.value = txt(t)), t);
CREATE OR REPLACE TEMP MACRO has_id(t) AS EXISTS (SELECT 1 FROM id_text i WHERE i.value = txt(t));
-- Which of a session's pre-dose readings is "the" pre-dose reading (rise over pre-dose): the
-- earliest, i.e. the lowest minutes_after_dose (a reading without minutes last), then the first
-- line. arg_min(x, pre_rank(...)) picks it; the marts (int_flags) use the same order. One BIGINT,
-- not a list: a list per row cost ~0.6 s over 5M vitals rows.
CREATE OR REPLACE TEMP MACRO pre_rank(minutes, line) AS
    coalesce(least(minutes, 1000000), 1000001)::BIGINT * 4294967296 + line;
