-- stg_patients -> out_patients: the valid rows, reduced to what a limited data set may keep:
-- birth year only, withheld when the patient is 90 or older at the export (as q_birth does in the
-- quarantine; the age at first dose, which the contract top-codes at 90, is never higher), age at
-- enrolment top-coded at 90 (and withheld with the birth year: enrolled_on less the age gives the
-- year back), ZIP to 3 digits with the sparsely populated prefixes as 000 (zip3_of,
-- macros.sql); a ZIP or diagnosis of another shape (a warning) as NULL.
CREATE OR REPLACE TEMP TABLE out_patients AS
WITH valid AS (
    SELECT s.*, year(s.enrolled_on) - s.birth_year AS age
    FROM stg_patients s ANTI JOIN errors_patients e ON e._line = s._line
)
SELECT patient_key,
       CASE WHEN _export_year - birth_year >= 90 THEN NULL ELSE birth_year END::SMALLINT AS birth_year,
       CASE WHEN age >= 90 THEN 90 WHEN _export_year - birth_year >= 90 THEN NULL
            ELSE age END::SMALLINT                                        AS age_at_enrolment,
       sex,
       CASE WHEN zip_shaped(zip) THEN zip3_of(zip) END                   AS zip3,
       enrolled_on, site_id, trd_failed_trials::SMALLINT AS trd_failed_trials,
       CASE WHEN icd10_shaped(diagnosis_icd10) THEN diagnosis_icd10 END AS diagnosis_icd10,
       _line
FROM valid;
