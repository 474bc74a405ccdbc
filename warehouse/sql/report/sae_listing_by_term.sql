-- Serious adverse events as counts only (every listing row is one SAE): per term and criterion, month and to date.
SELECT meddra_pt, criteria, count(*) FILTER (WHERE onset_month = ?) AS in_month, count(*) AS cumulative
FROM marts.sae_listing
WHERE (? = 'all' OR registry_id = ?) AND onset_month <= ?
GROUP BY ALL
ORDER BY 1, 2
