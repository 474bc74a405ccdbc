-- marts.sae_listing: serious adverse events without identifiers: no patient key, record id or
-- calendar date of onset (month and day since first dose only). Internal to the warehouse; the
-- report shows SAE counts by term and criterion (small cells suppressed), not this listing.
CREATE OR REPLACE TABLE marts.sae_listing AS
SELECT registry_id, grp_drug AS drug, grp_route AS route, pt AS meddra_pt, month AS onset_month,
       day AS days_since_first_dose,
       concat_ws(', ', CASE WHEN death THEN 'death' END, CASE WHEN life_threatening THEN 'life-threatening' END,
                 CASE WHEN hospitalization THEN 'hospitalisation' END, CASE WHEN disability THEN 'disability' END,
                 CASE WHEN congenital_anomaly THEN 'congenital anomaly' END,
                 CASE WHEN medically_important THEN 'medically important' END) AS criteria,
       severity, related, outcome
FROM int_ae
WHERE serious OR death OR life_threatening OR hospitalization OR disability OR congenital_anomaly OR medically_important
ORDER BY registry_id, onset_month, meddra_pt;
