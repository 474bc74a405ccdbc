-- seed_label_groups: MedDRA preferred term -> label group (clinical-reference 4.1, Spravato label
-- pooling) and long-term signal (4.4). Matched case-insensitively on meddra_pt, else the verbatim
-- term (to our vocabulary only; the verbatim term itself never reaches a mart). Terms not listed keep label_group/signal NULL (reported at PT level only).
-- Spellings: MedDRA's (UK: paraesthesia, hypoaesthesia, derealisation, haematuria) and the US ones
-- of the label wording (4.1) and the CTCAE terms (4.2) are both listed, always as a pair with the
-- same group/signal (tests/reports: every UK spelling has its US pair); plus the label's 'BP ...'
-- abbreviations and the CTCAE LLTs of 4.2 (e.g. 'Blurred vision' for PT 'Vision blurred').
CREATE OR REPLACE TEMP TABLE seed_label_groups AS
SELECT lower(pt) AS pt_lower, label_group, signal FROM (VALUES
    ('Depersonalisation/derealisation disorder', 'Dissociation', NULL),
    ('Depersonalization/derealization disorder', 'Dissociation', NULL),  -- US, label (4.1)
    ('Derealisation', 'Dissociation', NULL), ('Derealization', 'Dissociation', NULL),
    ('Diplopia', 'Dissociation', NULL),
    ('Dissociation', 'Dissociation', NULL), ('Dysaesthesia', 'Dissociation', NULL), ('Dysesthesia', 'Dissociation', NULL),
    ('Feeling cold', 'Dissociation', NULL), ('Feeling hot', 'Dissociation', NULL),
    ('Hallucination', 'Dissociation', NULL), ('Hallucinations', 'Dissociation', NULL),  -- CTCAE LLT (4.2)
    ('Hyperacusis', 'Dissociation', NULL),
    ('Paraesthesia', 'Dissociation', NULL), ('Paresthesia', 'Dissociation', NULL),
    ('Paraesthesia oral', 'Dissociation', NULL), ('Paresthesia oral', 'Dissociation', NULL),
    ('Pharyngeal paraesthesia', 'Dissociation', NULL), ('Pharyngeal paresthesia', 'Dissociation', NULL),
    ('Photophobia', 'Dissociation', NULL),
    ('Time perception altered', 'Dissociation', NULL), ('Tinnitus', 'Dissociation', NULL),
    ('Vision blurred', 'Dissociation', NULL), ('Blurred vision', 'Dissociation', NULL),  -- CTCAE LLT (4.2)
    ('Sedation', 'Sedation', NULL), ('Somnolence', 'Sedation', NULL), ('Stupor', 'Sedation', NULL),
    ('Blood pressure diastolic increased', 'Blood pressure increased', NULL),
    ('Blood pressure increased', 'Blood pressure increased', NULL),
    ('Blood pressure systolic increased', 'Blood pressure increased', NULL),
    ('BP diastolic increased', 'Blood pressure increased', NULL), ('BP increased', 'Blood pressure increased', NULL),
    ('BP systolic increased', 'Blood pressure increased', NULL),  -- the label's wording (4.1)
    ('Hypertension', 'Blood pressure increased', NULL),
    ('Hypoaesthesia', 'Hypoaesthesia', NULL), ('Hypoesthesia', 'Hypoaesthesia', NULL),
    ('Hypoaesthesia oral', 'Hypoaesthesia', NULL), ('Hypoesthesia oral', 'Hypoaesthesia', NULL),
    ('Intranasal hypoaesthesia', 'Hypoaesthesia', NULL), ('Intranasal hypoesthesia', 'Hypoaesthesia', NULL),
    ('Pharyngeal hypoaesthesia', 'Hypoaesthesia', NULL), ('Pharyngeal hypoesthesia', 'Hypoaesthesia', NULL),
    ('Pollakiuria', NULL, 'Urinary symptoms'), ('Dysuria', NULL, 'Urinary symptoms'),
    ('Micturition urgency', NULL, 'Urinary symptoms'), ('Nocturia', NULL, 'Urinary symptoms'),
    ('Cystitis', NULL, 'Urinary symptoms'), ('Cystitis interstitial', NULL, 'Urinary symptoms'),
    ('Haematuria', NULL, 'Urinary symptoms'), ('Hematuria', NULL, 'Urinary symptoms'),  -- CTCAE LLT, US spelling (4.2)
    ('Urinary frequency', NULL, 'Urinary symptoms'), ('Urinary urgency', NULL, 'Urinary symptoms'),  -- CTCAE LLTs (4.2)
    ('Urinary incontinence', NULL, 'Urinary symptoms'),
    ('Urinary retention', NULL, 'Urinary symptoms'), ('Bladder spasm', NULL, 'Urinary symptoms'),
    ('Bladder pain', NULL, 'Urinary symptoms'), ('Lower urinary tract symptoms', NULL, 'Urinary symptoms'),
    ('Alanine aminotransferase increased', NULL, 'Hepatic'), ('Aspartate aminotransferase increased', NULL, 'Hepatic'),
    ('Hepatic failure', NULL, 'Hepatic'), ('Cholangitis sclerosing', NULL, 'Hepatic'),
    -- cholestatic injury (4.4: ketamine cholangiopathy; ALP/GGT/bilirubin), terms as in 4.2
    ('GGT increased', NULL, 'Hepatic'), ('Alkaline phosphatase increased', NULL, 'Hepatic'),
    ('Blood bilirubin increased', NULL, 'Hepatic'),
    ('Drug abuse', NULL, 'Misuse and abuse'), ('Intentional product misuse', NULL, 'Misuse and abuse'),
    ('Drug dependence', NULL, 'Misuse and abuse'), ('Dependence', NULL, 'Misuse and abuse'),
    ('Substance use disorder', NULL, 'Misuse and abuse'), ('Drug diversion', NULL, 'Misuse and abuse'),
    ('Cognitive disorder', NULL, 'Cognitive'), ('Memory impairment', NULL, 'Cognitive'),
    ('Disturbance in attention', NULL, 'Cognitive'), ('Amnesia', NULL, 'Cognitive'),
    ('Mental impairment', NULL, 'Cognitive'),
    ('Cognitive disturbance', NULL, 'Cognitive'), ('Concentration impairment', NULL, 'Cognitive'),  -- CTCAE LLTs (4.2)
    ('Suicidal ideation', NULL, 'Suicidality'), ('Suicide attempt', NULL, 'Suicidality'),
    ('Completed suicide', NULL, 'Suicidality'), ('Intentional self-injury', NULL, 'Suicidality')
) t(pt, label_group, signal);
