-- AdverseEvent (R4) -> fhir_out_adverse_events. Term: event text or display; MedDRA from a coding in
-- the MedDRA system; seriousness Serious/Non-serious as 1/0, and R4's level-2 seriousness codes
-- (SeriousResultsInDeath, ...) as serious plus their ICH E2A criterion; severity
-- mild/moderate/severe; R4 outcome codes mapped to the contract's; causality from suspectEntity,
-- R4's WHO-UMC codes mapped to the contract's words (Certain = definite, Probably-Likely = probable;
-- Conditional-Classified and Unassessable-Unclassifiable say nothing and become empty); other ICH
-- E2A criteria and the resolution date from local extensions (R4 has no elements for them).
-- Each code is read with fhir_code: the HL7 system's coding wherever it stands among the codings.

-- `related` is relatedness to the ketamine-family treatment, and an event may list several suspects
-- (a concomitant antidepressant too) in any order, so causality is the treatment's suspect's: the
-- first whose instance is a resource the adapter recognises as the treatment (the administrations
-- fhir_sessions classed as ketamine-family; Medications, MedicationStatements and Procedures whose
-- codes or text fhir_drug names), a contained Medication naming it, or a concept naming it (R5
-- instanceCodeableConcept, or a CodeableConcept or display-only reference put in `instance`). Else
-- a lone suspect is taken as it is; several, none recognised, leave `related` empty (counted).
CREATE OR REPLACE TEMP TABLE fhir_ketamine_resources AS
SELECT 'MedicationAdministration' AS rtype, id FROM fhir_admins WHERE drug <> 'other'
UNION
SELECT r.rtype, r.id
FROM fhir_res r
LEFT JOIN fhir_res m ON r.rtype = 'MedicationStatement' AND m.rtype = 'Medication'
                     AND m.id = fhir_ref(json_extract_string(r.j, '$.medicationReference.reference'))
WHERE r.rtype IN ('Medication', 'MedicationStatement', 'Procedure')
  AND fhir_drug(lower(concat_ws(' ', json_extract_string(r.j, '$.code'),
                                json_extract_string(r.j, '$.medicationCodeableConcept'),
                                json_extract_string(r.j, '$.contained'), json_extract_string(m.j, '$.code')))) <> 'other';

CREATE OR REPLACE TEMP TABLE fhir_ae_suspects AS
WITH suspects AS (
    SELECT r._line, r.j AS ae, s.s, s.n,
           regexp_replace(coalesce(json_extract_string(s.s, '$.instance.reference'),
                                   json_extract_string(s.s, '$.instanceReference.reference'), ''),
                          '/_history/[^/]*$', '') AS ref,
           concat_ws(' ', CASE WHEN json_extract_string(s.s, '$.instance.reference') IS NULL
                               THEN json_extract_string(s.s, '$.instance')
                               ELSE json_extract_string(s.s, '$.instance.concept') END,
                     json_extract_string(s.s, '$.instanceCodeableConcept')) AS concept
    FROM fhir_res r, unnest(json_extract(r.j, '$.suspectEntity[*]')) WITH ORDINALITY AS s(s, n)
    WHERE r.rtype = 'AdverseEvent' AND coalesce(json_extract_string(r.j, '$.actuality'), 'actual') = 'actual'
),
flagged AS (
    SELECT x._line, x.s, x.n,
           EXISTS (SELECT 1 FROM fhir_ketamine_resources k
                   WHERE NOT starts_with(x.ref, '#') AND k.id = fhir_ref(x.ref)
                     AND regexp_extract(x.ref, '([A-Za-z]+)/[^/]+$', 1) IN ('', k.rtype))
           OR fhir_drug(lower(coalesce(json_extract_string(
                  list_filter(json_extract(x.ae, '$.contained[*]'),
                              c -> starts_with(x.ref, '#') AND json_extract_string(c, '$.id') = x.ref[2:])[1],
                  '$.code'), ''))) <> 'other'
           OR fhir_drug(lower(x.concept)) <> 'other' AS ketamine,
           -- the suspect's first causality that has an assessment (a code or text)
           list_filter(json_extract(x.s, '$.causality[*]'),
                       c -> json_extract_string(c, '$.assessment.text') IS NOT NULL
                            OR len(list_filter(json_extract_string(c, '$.assessment.coding[*].code'),
                                               v -> v IS NOT NULL)) > 0)[1] AS causality
    FROM suspects x
)
SELECT _line,
       -- the treatment listed twice (its Medication and its administration): the first one assessed
       CASE WHEN bool_or(ketamine) THEN arg_min(causality, n) FILTER (WHERE ketamine AND causality IS NOT NULL)
            WHEN count(*) = 1 THEN any_value(causality) END AS causality,
       count(*) > 1 AND NOT bool_or(ketamine) AND bool_or(causality IS NOT NULL) AS unattributed
FROM flagged
GROUP BY _line;

CREATE OR REPLACE TEMP TABLE fhir_out_adverse_events AS
WITH coded AS (
    SELECT r.*,
           lower(fhir_code(json_extract(r.j, '$.seriousness'),
                           'http://terminology.hl7.org/CodeSystem/adverse-event-seriousness',
                           ['Serious', 'Non-serious', 'SeriousResultsInDeath', 'SeriousIsLifeThreatening',
                            'SeriousResultsInHospitalization', 'SeriousResultsInDisability',
                            'SeriousIsBirthDefect', 'SeriousRequiresPreventImpairment'])) AS seriousness,
           lower(fhir_code(json_extract(r.j, '$.severity'),
                           'http://terminology.hl7.org/CodeSystem/adverse-event-severity',
                           ['mild', 'moderate', 'severe'])) AS severity,
           -- the contract's own words are recognised too: they pass through unchanged
           fhir_code(json_extract(r.j, '$.outcome'), 'http://terminology.hl7.org/CodeSystem/adverse-event-outcome',
                     ['resolved', 'recovering', 'ongoing', 'resolvedWithSequelae', 'fatal', 'unknown',
                      'recovered', 'not_recovered', 'recovered_with_sequelae']) AS outcome_code,
           fhir_code(json_extract(c.causality, '$.assessment'),
                     'http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess',
                     ['Certain', 'Probably-Likely', 'Possible', 'Unlikely', 'Conditional-Classified',
                      'Unassessable-Unclassifiable', 'unrelated', 'probable', 'definite']) AS causality_code,
           json_extract_string(c.causality, '$.assessment.text') AS causality_text
    FROM fhir_res r LEFT JOIN fhir_ae_suspects c ON c._line = r._line
    WHERE r.rtype = 'AdverseEvent' AND coalesce(json_extract_string(r.j, '$.actuality'), 'actual') = 'actual'
),
ae AS (
    SELECT r._line, r.id, r.j, r.seriousness, r.severity, r.outcome_code,
           list_filter(json_extract(r.j, '$.event.coding[*]'), c -> contains(lower(coalesce(json_extract_string(c, '$.system'), '')), 'mdr')
                       OR contains(lower(coalesce(json_extract_string(c, '$.system'), '')), 'meddra'))[1] AS meddra,
           list_transform(list_filter(json_extract(r.j, '$.extension[*]'),
                          e -> json_extract_string(e, '$.url') = 'urn:ketamine-outcomes:ext:sae-criterion'), e -> json_extract_string(e, '$.valueCode'))
           || [CASE r.seriousness
                   WHEN 'seriousresultsindeath' THEN 'death' WHEN 'seriousislifethreatening' THEN 'life_threatening'
                   WHEN 'seriousresultsinhospitalization' THEN 'hospitalization'
                   WHEN 'seriousresultsindisability' THEN 'disability' WHEN 'seriousisbirthdefect' THEN 'congenital_anomaly'
                   WHEN 'seriousrequirespreventimpairment' THEN 'medically_important' END] AS criteria,
           lower(coalesce(r.causality_code, r.causality_text)) AS causality
    FROM coded r
)
SELECT _line::BIGINT AS _line, id::VARCHAR AS ae_id,
       fhir_ref(json_extract_string(j, '$.subject.reference')) AS patient_id,
       fhir_ref(json_extract_string(j, '$.encounter.reference')) AS session_id,
       fhir_day(coalesce(json_extract_string(j, '$.date'), json_extract_string(j, '$.detected'), json_extract_string(j, '$.recordedDate'))) AS onset_date,
       -- without text, the first coding that has a display (a local coding first may have none)
       coalesce(json_extract_string(j, '$.event.text'),
                list_filter(json_extract_string(j, '$.event.coding[*].display'), d -> d IS NOT NULL)[1]) AS term,
       json_extract_string(meddra, '$.display') AS meddra_pt,
       json_extract_string(meddra, '$.code') AS meddra_code,
       severity,
       CASE WHEN seriousness = 'non-serious' THEN '0' WHEN starts_with(seriousness, 'serious') THEN '1' END AS serious,
       CASE WHEN list_contains(criteria, 'death') THEN '1' END AS death,
       CASE WHEN list_contains(criteria, 'life_threatening') THEN '1' END AS life_threatening,
       CASE WHEN list_contains(criteria, 'hospitalization') THEN '1' END AS hospitalization,
       CASE WHEN list_contains(criteria, 'disability') THEN '1' END AS disability,
       CASE WHEN list_contains(criteria, 'congenital_anomaly') THEN '1' END AS congenital_anomaly,
       CASE WHEN list_contains(criteria, 'medically_important') THEN '1' END AS medically_important,
       CASE causality WHEN 'certain' THEN 'definite' WHEN 'probably-likely' THEN 'probable'
            WHEN 'conditional-classified' THEN NULL WHEN 'unassessable-unclassifiable' THEN NULL
            ELSE causality END AS related,
       CASE outcome_code WHEN 'resolved' THEN 'recovered' WHEN 'recovering' THEN 'recovering'
            WHEN 'ongoing' THEN 'not_recovered' WHEN 'resolvedWithSequelae' THEN 'recovered_with_sequelae'
            WHEN 'fatal' THEN 'fatal' WHEN 'unknown' THEN 'unknown' ELSE outcome_code END AS outcome,
       fhir_ext(j, 'urn:ketamine-outcomes:ext:resolved-date', '$.valueDate') AS resolved_date
FROM ae;
