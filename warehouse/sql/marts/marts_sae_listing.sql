-- marts.sae_listing: serious adverse events without identifiers: no patient key, record id or
-- calendar date of onset (month and day since first dose only). Internal to the warehouse; the
-- report shows SAE counts by term and criterion (small cells suppressed), not this listing.
-- Treatment-emergent SAEs only (onset on or after the first session's date, int_ae), as in the
-- rates: days_since_first_dose >= 0. Pre-treatment SAEs are counted in marts.dq_pretreatment_ae.
CREATE OR REPLACE TABLE marts.sae_listing AS
SELECT registry_id, grp_drug AS drug, grp_route AS route, pt AS meddra_pt, month AS onset_month,
       day AS days_since_first_dose,
       concat_ws(', ', CASE WHEN death THEN 'death' END, CASE WHEN life_threatening THEN 'life-threatening' END,
                 CASE WHEN hospitalization THEN 'hospitalisation' END, CASE WHEN disability THEN 'disability' END,
                 CASE WHEN congenital_anomaly THEN 'congenital anomaly' END,
                 CASE WHEN medically_important THEN 'medically important' END) AS criteria,
       severity, related, outcome
FROM int_ae
WHERE treatment_emergent
  AND (serious OR death OR life_threatening OR hospitalization OR disability OR congenital_anomaly OR medically_important)
ORDER BY registry_id, onset_month, meddra_pt;

-- marts.dq_pretreatment_ae: adverse events with onset before the patient's first session (not
-- treatment-emergent: left out of ae_rates, long_term and sae_listing), by registry and onset month,
-- so they are not lost silently (data quality section of the report). Here rather than in
-- marts_data_quality because this model is the last to read int_ae (freed after it).
CREATE OR REPLACE TABLE marts.dq_pretreatment_ae AS
SELECT registry_id, month, count(*) AS events,
       count(*) FILTER (WHERE serious OR death OR life_threatening OR hospitalization OR disability
                              OR congenital_anomaly OR medically_important) AS serious_events,
       count(DISTINCT pid) AS patients
FROM int_ae
WHERE NOT treatment_emergent
GROUP BY ALL ORDER BY registry_id, month;
