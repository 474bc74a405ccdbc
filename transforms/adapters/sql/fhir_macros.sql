-- Helpers over FHIR JSON. A value is read only from value[x]; an element with dataAbsentReason
-- yields NULL, never a number.
-- A reference's resource id: its last segment once a version (.../_history/<v>) is dropped.
CREATE OR REPLACE TEMP MACRO fhir_ref(x) AS
    NULLIF(regexp_extract(regexp_replace(coalesce(x, ''), '/_history/[^/]*$', ''), '([^/:#]+)$', 1), '');
CREATE OR REPLACE TEMP MACRO fhir_codes(j) AS json_extract_string(j, '$.code.coding[*].code');
CREATE OR REPLACE TEMP MACRO fhir_ext(j, u, k) AS
    json_extract_string(list_filter(json_extract(j, '$.extension[*]'), e -> json_extract_string(e, '$.url') = u)[1], k);
CREATE OR REPLACE TEMP MACRO fhir_whole(v) AS
    CASE WHEN TRY_CAST(v AS DOUBLE) IS NOT NULL AND TRY_CAST(v AS DOUBLE) = round(TRY_CAST(v AS DOUBLE))
              AND abs(TRY_CAST(v AS DOUBLE)) < 1e15
         THEN CAST(CAST(TRY_CAST(v AS DOUBLE) AS BIGINT) AS VARCHAR) ELSE v END;
-- LOINC answer lists LL358-3 (PHQ-9, GAD-7 items): LA6568-5 = 0 ... LA6571-9 = 3; LL5434-7 (C-SSRS
-- ideation types, 93293-9: fhir_codes.INSTRUMENTS): LA30370-3 = 1 ... LA30374-5 = 5. Answer codes
-- are unique across LOINC, so one list serves every item.
CREATE OR REPLACE TEMP MACRO fhir_answer(code) AS
    CASE code WHEN 'LA6568-5' THEN '0' WHEN 'LA6569-3' THEN '1' WHEN 'LA6570-1' THEN '2' WHEN 'LA6571-9' THEN '3'
              WHEN 'LA30370-3' THEN '1' WHEN 'LA30371-1' THEN '2' WHEN 'LA30372-9' THEN '3' WHEN 'LA30373-7' THEN '4'
              WHEN 'LA30374-5' THEN '5' END;
-- The code of CodeableConcept cc that a mapping understands. A concept may carry several codings
-- (EHRs put a local code first and the standard one after, or add translations), so coding[0]
-- alone can miss it: the first coding of system sys, else the first whose code is in known
-- (case-insensitive), else the first coding's code, as a lone coding always was.
CREATE OR REPLACE TEMP MACRO fhir_code(cc, sys, known) AS
    coalesce(json_extract_string(list_filter(json_extract(cc, '$.coding[*]'),
                                             c -> json_extract_string(c, '$.system') = sys
                                                  AND json_extract_string(c, '$.code') IS NOT NULL)[1], '$.code'),
             list_filter(json_extract_string(cc, '$.coding[*].code'),
                         c -> list_contains(list_transform(known, k -> lower(k)), lower(c)))[1],
             json_extract_string(cc, '$.coding[0].code'));
-- The ketamine-family drug a medication's lower-cased text or codes name, else 'other'. One rule for
-- the sessions' drug and for recognising the treatment among an AdverseEvent's suspects.
CREATE OR REPLACE TEMP MACRO fhir_drug(t) AS
    CASE WHEN regexp_matches(t, 'esketamine|spravato|50458-028') THEN 'esketamine'
         WHEN regexp_matches(t, 'arketamine') THEN 'arketamine'
         WHEN regexp_matches(t, 'ketamine|ketalar') THEN 'ketamine'
         ELSE 'other' END;
CREATE OR REPLACE TEMP MACRO fhir_value(x) AS
    CASE WHEN json_extract(x, '$.dataAbsentReason') IS NULL THEN
        fhir_whole(coalesce(json_extract_string(x, '$.valueQuantity.value'), json_extract_string(x, '$.valueInteger'),
                            json_extract_string(x, '$.valueDecimal'),
                            fhir_answer(fhir_code(json_extract(x, '$.valueCodeableConcept'), 'http://loinc.org',
                                                  ['LA6568-5', 'LA6569-3', 'LA6570-1', 'LA6571-9', 'LA30370-3',
                                                   'LA30371-1', 'LA30372-9', 'LA30373-7', 'LA30374-5']))))
    END;
-- The LOINC answer code of x's valueCodeableConcept (NULL with dataAbsentReason), for answers that
-- hold only for some items: LA18938-3 "More days than not" = 2 is GAD-7 item 2's alone
-- (fhir_codes.GAD7_EXTRA_ANSWERS, joined as fhir_item_answers in fhir_assessments.sql).
CREATE OR REPLACE TEMP MACRO fhir_answer_code(x) AS
    CASE WHEN json_extract(x, '$.dataAbsentReason') IS NULL THEN
        fhir_code(json_extract(x, '$.valueCodeableConcept'), 'http://loinc.org',
                  ['LA6568-5', 'LA6569-3', 'LA6570-1', 'LA6571-9', 'LA18938-3'])
    END;
CREATE OR REPLACE TEMP MACRO fhir_time(j) AS
    coalesce(json_extract_string(j, '$.effectiveDateTime'), json_extract_string(j, '$.effectivePeriod.start'),
             json_extract_string(j, '$.effectiveInstant'));
-- The calendar day of a FHIR date or dateTime: a dateTime is an instant, whose day is the registry's
-- (the workspace runs in its time zone), as for session and enrolment dates; a date is as written.
CREATE OR REPLACE TEMP MACRO fhir_day(t) AS
    CASE WHEN length(t) > 10 AND TRY_CAST(t AS TIMESTAMPTZ) IS NOT NULL
         THEN CAST(CAST(TRY_CAST(t AS TIMESTAMPTZ) AS DATE) AS VARCHAR) ELSE left(t, 10) END;
