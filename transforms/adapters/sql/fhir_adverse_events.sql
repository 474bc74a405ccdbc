-- AdverseEvent (R4) -> fhir_out_adverse_events. Term: event text or display; MedDRA from a coding in
-- the MedDRA system; seriousness Serious/Non-serious as 1/0, and R4's level-2 seriousness codes
-- (SeriousResultsInDeath, ...) as serious plus their ICH E2A criterion; severity
-- mild/moderate/severe; R4 outcome codes mapped to the contract's; causality from suspectEntity,
-- R4's WHO-UMC codes mapped to the contract's words (Certain = definite, Probably-Likely = probable;
-- Conditional-Classified and Unassessable-Unclassifiable say nothing and become empty); other ICH
-- E2A criteria and the resolution date from local extensions (R4 has no elements for them).
CREATE OR REPLACE TEMP TABLE fhir_out_adverse_events AS
WITH ae AS (
    SELECT r._line, r.id, r.j,
           list_filter(json_extract(r.j, '$.event.coding[*]'), c -> contains(lower(coalesce(json_extract_string(c, '$.system'), '')), 'mdr')
                       OR contains(lower(coalesce(json_extract_string(c, '$.system'), '')), 'meddra'))[1] AS meddra,
           list_transform(list_filter(json_extract(r.j, '$.extension[*]'),
                          e -> json_extract_string(e, '$.url') = 'urn:ketamine-outcomes:ext:sae-criterion'), e -> json_extract_string(e, '$.valueCode'))
           || [CASE lower(json_extract_string(r.j, '$.seriousness.coding[0].code'))
                   WHEN 'seriousresultsindeath' THEN 'death' WHEN 'seriousislifethreatening' THEN 'life_threatening'
                   WHEN 'seriousresultsinhospitalization' THEN 'hospitalization'
                   WHEN 'seriousresultsindisability' THEN 'disability' WHEN 'seriousisbirthdefect' THEN 'congenital_anomaly'
                   WHEN 'seriousrequirespreventimpairment' THEN 'medically_important' END] AS criteria,
           lower(coalesce(json_extract_string(r.j, '$.suspectEntity[0].causality[0].assessment.coding[0].code'),
                          json_extract_string(r.j, '$.suspectEntity[0].causality[0].assessment.text'))) AS causality
    FROM fhir_res r WHERE r.rtype = 'AdverseEvent' AND coalesce(json_extract_string(r.j, '$.actuality'), 'actual') = 'actual'
)
SELECT _line::BIGINT AS _line, id::VARCHAR AS ae_id,
       fhir_ref(json_extract_string(j, '$.subject.reference')) AS patient_id,
       fhir_ref(json_extract_string(j, '$.encounter.reference')) AS session_id,
       fhir_day(coalesce(json_extract_string(j, '$.date'), json_extract_string(j, '$.detected'), json_extract_string(j, '$.recordedDate'))) AS onset_date,
       coalesce(json_extract_string(j, '$.event.text'), json_extract_string(j, '$.event.coding[0].display')) AS term,
       json_extract_string(meddra, '$.display') AS meddra_pt,
       json_extract_string(meddra, '$.code') AS meddra_code,
       lower(json_extract_string(j, '$.severity.coding[0].code')) AS severity,
       CASE WHEN lower(json_extract_string(j, '$.seriousness.coding[0].code')) = 'non-serious' THEN '0'
            WHEN starts_with(lower(json_extract_string(j, '$.seriousness.coding[0].code')), 'serious') THEN '1' END AS serious,
       CASE WHEN list_contains(criteria, 'death') THEN '1' END AS death,
       CASE WHEN list_contains(criteria, 'life_threatening') THEN '1' END AS life_threatening,
       CASE WHEN list_contains(criteria, 'hospitalization') THEN '1' END AS hospitalization,
       CASE WHEN list_contains(criteria, 'disability') THEN '1' END AS disability,
       CASE WHEN list_contains(criteria, 'congenital_anomaly') THEN '1' END AS congenital_anomaly,
       CASE WHEN list_contains(criteria, 'medically_important') THEN '1' END AS medically_important,
       CASE causality WHEN 'certain' THEN 'definite' WHEN 'probably-likely' THEN 'probable'
            WHEN 'conditional-classified' THEN NULL WHEN 'unassessable-unclassifiable' THEN NULL
            ELSE causality END AS related,
       CASE json_extract_string(j, '$.outcome.coding[0].code') WHEN 'resolved' THEN 'recovered' WHEN 'recovering' THEN 'recovering'
            WHEN 'ongoing' THEN 'not_recovered' WHEN 'resolvedWithSequelae' THEN 'recovered_with_sequelae'
            WHEN 'fatal' THEN 'fatal' WHEN 'unknown' THEN 'unknown' ELSE json_extract_string(j, '$.outcome.coding[0].code') END AS outcome,
       fhir_ext(j, 'urn:ketamine-outcomes:ext:resolved-date', '$.valueDate') AS resolved_date
FROM ae;
