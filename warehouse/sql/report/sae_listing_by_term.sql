-- SAEs as counts only, per term and criterion: the listing itself is never printed (every row is one SAE).
SELECT meddra_pt, criteria, count(*) FILTER (WHERE onset_month = ?) AS in_month, count(*) AS cumulative
FROM marts.sae_listing
WHERE (? = 'all' OR registry_id = ?) AND onset_month <= ?
GROUP BY ALL
ORDER BY 1, 2
