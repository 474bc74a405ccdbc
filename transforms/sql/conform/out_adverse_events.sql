CREATE OR REPLACE TEMP TABLE out_adverse_events AS
SELECT ae_id, patient_key, session_id, onset_date, term, meddra_pt, meddra_code, severity, serious,
       death, life_threatening, hospitalization, disability, congenital_anomaly, medically_important,
       related, outcome, resolved_date, _line
FROM stg_adverse_events s ANTI JOIN errors_adverse_events e ON e._line = s._line;
