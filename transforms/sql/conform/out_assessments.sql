CREATE OR REPLACE TEMP TABLE out_assessments AS
SELECT assessment_id, patient_key, session_id, assessed_at, instrument, total_score, item_scores,
       minutes_after_dose, _line
FROM stg_assessments s ANTI JOIN errors_assessments e ON e._line = s._line;
