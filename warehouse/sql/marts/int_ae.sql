-- int_ae_terms: each adverse event once per level it is counted at: its preferred term
-- ('pt': meddra_pt; an event without one is 'Uncoded', never its verbatim term, which is free text
-- that may hold a name; one whose meddra_pt holds an identifier pattern is 'Withheld term'), its label group, its long-term signal, and 'any'. The label group and
-- signal are still looked up by the verbatim term when meddra_pt is empty: they are our fixed
-- vocabulary (seed_label_groups), so no free text reaches a mart.
-- Group = the patient's treatment group; events of patients without a session are left out
-- (no exposure denominator).
-- Treatment-emergent = onset on or after the (registry-local: reports/sources.py) date of the patient's first session (the day
-- int_sessions starts exposure). Only treatment-emergent events are counted in the rates
-- (int_ae_terms: ae_rates, long_term) and the SAE listing; an earlier onset (the contract loads
-- onsets from the first session - 1 day) would be an "on-treatment" event with no time at risk
-- before it. Pre-treatment events are counted in marts.dq_pretreatment_ae (data quality).
-- Preferred term: matched case-insensitively ('Nausea', 'nausea' and 'NAUSEA' are one PT; the
-- label-group lookup was already case-insensitive). Shown as the term's most frequent spelling
-- among the build's events, ties: a mixed-case spelling (as MedDRA writes PTs) before an all-upper
-- or all-lower one, then the first by byte order. Deterministic for the same data; a spelling
-- that becomes more frequent in a later month changes the label, never the counts.
CREATE OR REPLACE TEMP TABLE int_ae AS
WITH a AS (
    SELECT p.pid, e.registry_id, e.ae_id, e.session_id, e.onset_date, p.grp_drug, p.grp_route,
           e.onset_date >= utc_date(p.first_start) AS treatment_emergent,
           -- a preferred term holding what looks like an identifier (loaded before the ingest
           -- redacted it, or one its pattern now finds): one 'Withheld term', never printed as sent
           CASE WHEN has_identifier(e.meddra_pt) THEN 'Withheld term' ELSE nullif(trim(e.meddra_pt), '') END AS pt_raw,
           g.label_group, g.signal,
           e.serious, e.death, e.life_threatening, e.hospitalization, e.disability, e.congenital_anomaly,
           e.medically_important, e.severity, e.related, e.outcome,
           strftime(e.onset_date, '%Y-%m') AS month,
           date_diff('day', utc_date(p.first_start), e.onset_date) AS day
    FROM src_adverse_events e
    JOIN int_patients p USING (registry_id, patient_key)
    LEFT JOIN seed_label_groups g ON g.pt_lower = lower(coalesce(nullif(trim(e.meddra_pt), ''), e.term))
), spelling AS (
    SELECT lower(pt_raw) AS pt_lower,
           arg_min(pt_raw, (-n, pt_raw = upper(pt_raw) OR pt_raw = lower(pt_raw), pt_raw)) AS pt
    FROM (SELECT pt_raw, count(*) AS n FROM a WHERE pt_raw IS NOT NULL GROUP BY pt_raw)
    GROUP BY 1
)
SELECT a.* EXCLUDE (pt_raw), coalesce(s.pt, 'Uncoded') AS pt
FROM a LEFT JOIN spelling s ON s.pt_lower = lower(a.pt_raw);

CREATE OR REPLACE TEMP TABLE int_ae_terms AS
WITH te AS (SELECT * FROM int_ae WHERE treatment_emergent)
SELECT pid, registry_id, grp_drug, grp_route, onset_date, month, 'pt' AS level, pt AS term FROM te
UNION ALL SELECT pid, registry_id, grp_drug, grp_route, onset_date, month, 'label_group', label_group FROM te WHERE label_group IS NOT NULL
UNION ALL SELECT pid, registry_id, grp_drug, grp_route, onset_date, month, 'signal', signal FROM te WHERE signal IS NOT NULL
UNION ALL SELECT pid, registry_id, grp_drug, grp_route, onset_date, month, 'any', 'Any adverse event' FROM te;

-- Hepatic signal from labs: one event of signal 'ALT/AST >= 3x ULN (labs)' per blood draw (registry,
-- patient, collection date) with ALT or AST >= 3 x ULN, collected on or after the first session
-- day (clinical-reference 4.4, contract labs): ALT and AST of the same draw both elevated are one
-- event, not two. Draws before the first session are not treatment-emergent and are not counted.
INSERT INTO int_ae_terms
SELECT DISTINCT p.pid, l.registry_id, p.grp_drug, p.grp_route, l.collected_on, strftime(l.collected_on, '%Y-%m'),
       'signal', 'ALT/AST >= 3x ULN (labs)'
FROM src_labs l JOIN int_patients p USING (registry_id, patient_key)
WHERE upper(l.test) IN ('ALT', 'AST') AND l.uln > 0 AND l.value >= 3 * l.uln
  AND l.collected_on >= utc_date(p.first_start);
