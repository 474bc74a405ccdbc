-- stg_patients -> out_patients: the valid rows, reduced to what a limited data set may keep:
-- birth year only, age top-coded at 90 (birth year then withheld), ZIP to 3 digits with the
-- sparsely populated prefixes as 000 (HHS de-identification guidance, 2010 Census list).
CREATE OR REPLACE TEMP TABLE out_patients AS
WITH valid AS (
    SELECT s.*, year(s.enrolled_on) - s.birth_year AS age
    FROM stg_patients s ANTI JOIN errors_patients e ON e._line = s._line
)
SELECT patient_key,
       CASE WHEN age >= 90 THEN NULL ELSE birth_year END::SMALLINT      AS birth_year,
       least(age, 90)::SMALLINT                                          AS age_at_enrolment,
       sex,
       CASE WHEN left(zip, 3) IN ('036', '059', '102', '202', '203', '204', '205', '369', '556', '692',
                                  '753', '772', '821', '823', '878', '879', '884', '893')
            THEN '000' ELSE left(zip, 3) END                             AS zip3,
       enrolled_on, site_id, trd_failed_trials::SMALLINT AS trd_failed_trials, diagnosis_icd10,
       _line
FROM valid;
