-- AdverseEvent (R4) -> fhir_out_adverse_events. Term: event text or display; MedDRA from a coding in
-- the MedDRA system; seriousness Serious/Non-serious as 1/0, and R4's level-2 seriousness codes
-- (SeriousResultsInDeath, ...) as serious plus their ICH E2A criterion; severity
-- mild/moderate/severe; R4 outcome codes mapped to the contract's; causality from suspectEntity,
-- R4's WHO-UMC codes mapped to the contract's words (Certain = definite, Probably-Likely = probable;
-- Conditional-Classified and Unassessable-Unclassifiable say nothing and become empty); other ICH
-- E2A criteria and the resolution date from local extensions (R4 has no elements for them).
-- Each code is read with fhir_code: the HL7 system's coding wherever it stands among the codings.
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
           fhir_code(json_extract(r.j, '$.suspectEntity[0].causality[0].assessment'),
                     'http://terminology.hl7.org/CodeSystem/adverse-event-causality-assess',
                     ['Certain', 'Probably-Likely', 'Possible', 'Unlikely', 'Conditional-Classified',
                      'Unassessable-Unclassifiable', 'unrelated', 'probable', 'definite']) AS causality_code
    FROM fhir_res r WHERE r.rtype = 'AdverseEvent' AND coalesce(json_extract_string(r.j, '$.actuality'), 'actual') = 'actual'
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
           lower(coalesce(r.causality_code,
                          json_extract_string(r.j, '$.suspectEntity[0].causality[0].assessment.text'))) AS causality
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
