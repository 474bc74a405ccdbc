-- marts.long_term: long-term signals (clinical-reference 4.4) with exposure-time denominators:
-- urinary symptoms, hepatic (AE terms and ALT/AST >= 3x ULN from labs), misuse and abuse,
-- cognitive, suicidality. A slice of marts.ae_rates at level 'signal'.
CREATE OR REPLACE TABLE marts.long_term AS
SELECT * FROM marts.ae_rates WHERE level = 'signal';
