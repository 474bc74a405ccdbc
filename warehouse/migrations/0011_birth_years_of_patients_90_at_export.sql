-- 0011: a birth year is withheld when the patient is 90 or older at the export, and the age at
-- enrolment with it (enrolled_on less the age gives the year back): transforms/sql/conform/
-- out_patients.sql since session 16. Before, only a patient 90 or older at enrolment lost the birth
-- year, so a warehouse loaded earlier still holds the birth years of patients who were 90 by the
-- export (Safe Harbor aggregates every age over 89) until their registry sends them again. The
-- export's year is taken in the time zone the load read it in (ops.loads.timezone, UTC before
-- 0005), as the pipeline's exported_at year is.
UPDATE core.patients p SET birth_year = NULL, age_at_enrolment = NULL
WHERE p.birth_year IS NOT NULL
  AND year(timezone(coalesce((SELECT l.timezone FROM ops.loads l WHERE l.load_id = p.load_id), 'UTC'), p.exported_at))
      - p.birth_year >= 90;

UPDATE history.patients p SET birth_year = NULL, age_at_enrolment = NULL
WHERE p.birth_year IS NOT NULL
  AND year(timezone(coalesce((SELECT l.timezone FROM ops.loads l WHERE l.load_id = p.load_id), 'UTC'), p.exported_at))
      - p.birth_year >= 90;
