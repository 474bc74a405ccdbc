-- Score observations -> fhir_out_assessments. Instruments: PHQ-9 total 44261-6, GAD-7 70274-6 (LOINC);
-- MADRS, QIDS_SR16, HAMD17, CADSS, MOAAS in the local code system urn:ketamine-outcomes:instrument
-- (no LOINC codes exist for them). Item scores come from the observation's components, or from
-- item Observations it or its panel groups (hasMember, derivedFrom: US Core's PHQ-9), in the order
-- of fhir_items (LOINC item codes, or local codes <INSTRUMENT>.<n>), and only when every item is
-- there exactly once. An item's coded value is read from LOINC's answer list LL358-3 (fhir_value), and
-- from the answers only one item has (fhir_item_answers: GAD-7 item 2's LA18938-3 "More days than not"
-- = 2, as the QuestionnaireResponse path reads it). minutes_after_dose is counted from the session's
-- dose when the score belongs to one, negative for a score taken before it.

-- (observation, observation it groups or derives from): hasMember, derivedFrom
CREATE OR REPLACE TEMP TABLE fhir_obs_members AS
SELECT id AS parent, fhir_ref(unnest(json_extract_string(j, '$.hasMember[*].reference'))) AS member
FROM fhir_res WHERE rtype = 'Observation'
UNION ALL
SELECT id, fhir_ref(unnest(json_extract_string(j, '$.derivedFrom[*].reference')))
FROM fhir_res WHERE rtype = 'Observation';

CREATE OR REPLACE TEMP TABLE fhir_out_assessments AS
WITH members AS (SELECT * FROM fhir_obs_members), totals AS (
    SELECT o.*, i.instrument
    FROM fhir_obs o JOIN fhir_instruments i ON i.code = o.code
    WHERE o.pos = 0
),
item_sources AS (  -- a total's item values: its components, its own members, its panel's other members
    SELECT t.id, t.instrument, c.code, c.value, c.answer_code
    FROM totals t JOIN fhir_obs c ON c.id = t.id AND c.pos > 0
    UNION ALL
    SELECT t.id, t.instrument, c.code, c.value, c.answer_code
    FROM totals t
    JOIN (SELECT parent AS total_id, member AS item_id FROM members
          UNION
          SELECT mt.member, mi.member FROM members mt JOIN members mi ON mi.parent = mt.parent AND mi.member <> mt.member
         ) m ON m.total_id = t.id
    JOIN fhir_obs c ON c.id = m.item_id AND c.pos = 0 AND c.patient_id IS NOT DISTINCT FROM t.patient_id
),
item_values AS (  -- the value, else an answer code that only this item has (GAD-7 item 2's LA18938-3)
    SELECT c.id, it.position, it.n_items, coalesce(c.value, x.value) AS value
    FROM item_sources c
    JOIN fhir_items it ON it.instrument = c.instrument AND it.code = c.code
    LEFT JOIN fhir_item_answers x ON x.instrument = it.instrument AND x.position = it.position AND x.code = c.answer_code
),
items AS (
    SELECT c.id, string_agg(c.value, ';' ORDER BY c.position) AS item_scores, count(c.value) AS n,
           count(DISTINCT c.position) FILTER (WHERE c.value IS NOT NULL) AS n_positions,
           any_value(c.n_items) AS n_items
    FROM item_values c
    GROUP BY c.id
)
SELECT t._line::BIGINT AS _line, t.id::VARCHAR AS assessment_id, t.patient_id::VARCHAR AS patient_id,
       t.session_id::VARCHAR AS session_id, t.time_text::VARCHAR AS assessed_at, t.instrument::VARCHAR AS instrument,
       t.value::VARCHAR AS total_score,
       CASE WHEN i.n = i.n_items AND i.n_positions = i.n_items THEN i.item_scores END::VARCHAR AS item_scores,
       -- negative before the dose (the contract allows -1440 to 1440 for assessments); a score more
       -- than 24 h before it (an inpatient stay's, linked by its encounter) is no peri-dose score: none
       CASE WHEN date_diff('minute', s.start_ts, t.ts) >= -1440 THEN date_diff('minute', s.start_ts, t.ts) END::VARCHAR
           AS minutes_after_dose
FROM totals t
LEFT JOIN items i ON i.id = t.id
LEFT JOIN fhir_sessions s ON s.session_id = t.session_id;
