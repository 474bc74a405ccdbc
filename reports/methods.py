"""The methods section: every definition and denominator the report uses, in one list, so the
text and the SQL models (warehouse/sql/marts) can be reviewed side by side."""

METHODS = [
    ("Data", "Current records (core.*) or, with --as-of L, the warehouse as it stood after load L: per record the latest "
             "version by exported_at (ties: load_id) among loads <= L; withdrawn records are left out. Events dated on or "
             "after the first day of the next month are left out, so 'cumulative' means up to the end of the report month "
             "(a patient enrolled after it but treated before it, which the contract allows up to 30 days before "
             "enrolment, is kept with its site). "
             "What a month includes is decided by data time only: records by their own date, loads and quarantined rows by "
             "their export's exported_at (the month's closing export, loaded on the 1st of the next month, is that month's), "
             "suicidality alerts by the assessment they were raised on (by their export when that assessment was "
             "quarantined); never by when a load ran."),
    ("Treatment group", "Drug and route of the patient's first session. Efficacy and safety are stratified by it; "
                        "exposure tables use each session's own drug and route."),
    ("Phase", "Induction = sessions in days 0-27 after the first session (esketamine label weeks 1-4); maintenance after."),
    ("Dose band", "Esketamine: dose in mg (28/56/84). Other drugs: mg/kg band (<0.5, 0.5, >0.5-1.0, >1.0) when mg/kg is "
                  "recorded, else mg band; oral ketamine in its own bands (<1.0, 1.0-2.5, >2.5 mg/kg: ~20-25 % "
                  "bioavailable, IV-equivalent at ~2.0-2.5 mg/kg, clinical-reference 2.2). Dose regimen = group plus "
                  "the most frequent induction dose band (ties: the lowest band by dose, e.g. <0.5 before 0.5 mg/kg)."),
    ("Exposure time", "Each session contributes the days to the patient's next session (at most 28: our choice, so that a "
                      "long gap in treatment is not counted as exposure; the reference gives no cap), or 7 days after the "
                      "last session (proposed; clinical-reference 7.1) (never past the cut-off); "
                      "patient-years = days / 365.25 (proposed; 7.1); a month's patient-years are those of the sessions starting in it."),
    ("Baseline", "The last score of the instrument at or before the first session and at most 14 days before it (window "
                 "-14..0 days proposed; clinical-reference 9, rule S6); patients with no baseline, or a baseline already at or "
                 "below the instrument's remission cut-off (PHQ-9 < 5, QIDS-SR16 <= 5, HAM-D17 <= 7, MADRS <= 12: a patient "
                 "in remission at baseline would count as a remitter, one barely depressed as a responder, without "
                 "change), are not evaluable for response, remission or relapse."),
    ("Week-w score", "The assessment nearest to day 7w (day = calendar days since the first session; ties: the earlier) within "
                     "the window: week 1 days 4-10, 2: 11-17, 4: 21-35, 8: 46-66, 12: 70-98, 26: 154-210, 52: 322-406. "
                     "Denominator: patients evaluable = baseline and a week-w score. These are observed cases, not "
                     "intention-to-treat: there is no last-observation-carried-forward or imputation, and patients who stopped "
                     "(mostly non-responders after induction) are not counted as non-responders, so rates at later weeks are "
                     "biased upwards. Sensitivity 'missing = non-response': denominator = patients with a baseline whose week-w "
                     "window ended before the registry's data end (the day after its latest loaded export, never later than "
                     "the cut-off: a registry whose exports lag counts no patient as followed past its data), numerator = those with a "
                     "responding week-w score; Wilson CI. Route-by-week tables are unadjusted."),
    ("Response", "Week-w score at most 50 % of baseline (>= 50 % reduction)."),
    ("Remission", "PHQ-9 < 5; QIDS-SR16 <= 5; HAM-D17 <= 7 (STAR*D); MADRS <= 10 (ESCAPE-TRD, KetECT) and, separately "
                  "labelled, MADRS <= 12 (esketamine phase 3). GAD-7 (anxiety) has no response definition in the "
                  "reference and is not reported as an efficacy outcome."),
    ("Time to first response", "Time from the first dose to the first post-dose assessment meeting the response "
                               "definition, in days to the minute (4 hours = 0.17 days; 'by 24 h' counts them); censored at the last assessment of the instrument; Kaplan-Meier (lifelines), "
                               "Greenwood-exponential 95 % CI; curves are drawn only while more than 10 patients are at risk, and "
                               "an estimate at a day (or a median) is shown ('—' otherwise) only where more than 10 patients are "
                               "still at risk and someone's follow-up has reached that day. Censoring is likely informative: "
                               "patients who do not respond stop treatment (and assessments), so the curves probably overstate "
                               "response."),
    ("Relapse", "Among responders, two consecutive later assessments each above 50 % of baseline, the second at least "
                "5 days after the first and dating the relapse (PROPOSED: the SUSTAIN-1 rule, two assessments 5-15 days "
                "apart, is UNVERIFIED in the reference); time from first response; Kaplan-Meier."),
    ("Adverse-event rates", "Treatment-emergent events only: onset on or after the date of the patient's first session; "
                            "events with an earlier onset are left out of the rates, long-term signals and SAE counts and "
                            "counted in the data-quality section. "
                            "Preferred terms are matched regardless of letter case and shown in their most frequent spelling. "
                            "Numerators: events (all) and patients with >= 1 event with onset in the period; label groups "
                            "pool preferred terms as the Spravato label does (clinical-reference 4.1; MedDRA/UK and US spellings, and the "
                            "CTCAE terms of 4.2). Denominators: patients "
                            "with a session in the period, sessions in the period, patient-years. A month counts only the events "
                            "of its denominator: patients with a session in the month, onset on or after their first session "
                            "of the month; an onset in a month without a session (e.g. after the last dose) or before the "
                            "patient's first session of the month falls under exposure credited to an earlier month and is "
                            "counted in 'cumulative' only. Per 100 sessions = events / "
                            "sessions x 100 (proposed; clinical-reference 7.1) (exact Poisson CI); EAIR = patients with a first event in the "
                            "period / patient-years at risk x 100 (exact Poisson CI), time at risk ending at the first onset "
                            "(clinical-reference 7.1): exposure up to and including the onset day, the rest of that session's "
                            "window and all later sessions removed; patient "
                            "incidence proportion with Clopper-Pearson CI. Sessions cluster within patients: the per-session "
                            "CIs ignore that clustering and are too narrow when events recur in the same patients."),
    ("Serious adverse events", "ICH E2A: serious flag or any of death, life-threatening, hospitalisation, disability, congenital "
                               "anomaly, medically important; treatment-emergent ones counted by preferred term and criterion."),
    ("Per-session rates", "Blood pressure, dissociation, sedation, respiratory and REMS tables count sessions as units: "
                          "sessions cluster within patients, so their Wilson intervals are too narrow when the same "
                          "patients are flagged again and again; the per-patient columns (Clopper-Pearson) do not have "
                          "that problem."),
    ("Blood pressure", "Post-dose SBP >= 180 and DBP >= 110: sessions with a post-dose reading (absolute values, as the "
                       "load's alerts; a session without a pre-dose reading counts). Rise over pre-dose of >= 40 systolic or "
                       ">= 25 diastolic, and any notable rise (either rise, or SBP >= 180 or DBP >= 110): sessions with a "
                       "pre-dose and a post-dose reading (label, Table 6). Pre-dose > 140/90 reported "
                       "separately (J&J medical information: consider delaying). Readings outside the contract's ranges "
                       "are rejected (quarantined) and not counted: SBP 50-300 and DBP up to 160 (a hypertension "
                       "registry's limits, clinical-reference 3.4); DBP from 20, heart rate 25-250 and SpO2 50-100 are "
                       "proposed limits. The alerts such a reading raises (SpO2 < 92, SBP >= 180...) are still raised at "
                       "load, marked as quarantined, since it may be the most dangerous reading of the export."),
    ("Respiratory depression", "Sessions with a post-dose SpO2; flagged when the lowest is < 92 % (proposed; "
                               "clinical-reference 3.4: the REMS requires pulse oximetry but gives no threshold). Also a load alert."),
    ("REMS", "Esketamine sessions with monitoring_minutes: under 120 min is a deviation; esketamine sessions with a setting: "
             "'home' is a violation (the label allows administration only under supervision in a certified setting)."),
    ("Dissociation", "Sessions with a CADSS after dosing; present = highest post-dose total > 4 and above the pre-dose total "
                     "(trial threshold: total > 4 and change > 0). When no pre-dose CADSS was recorded the change is "
                     "taken as positive (our assumption; the reference does not say), so those sessions count on the "
                     "total alone."),
    ("Sedation", "Sessions with a MOAA/S after dosing. Both definitions of clinical-reference 10.2: moderate or greater = lowest "
                 "post-dose score <= 3 (J&J medical information); any decrease = lowest post-dose score below the pre-dose score "
                 "(label), the pre-dose score taken as 5 (alert) when none was recorded (our assumption; the reference does not "
                 "give a default). Loss of consciousness = 0."),
    ("REMS monitoring", "Esketamine sessions with monitoring minutes recorded; deviation = fewer than 120 minutes."),
    ("Suicidality", "PHQ-9 item 9 >= 1 (from item scores) and C-SSRS ideation >= 4 among on-treatment assessments that record "
                    "them (assessed at or after the patient's first session; pre-treatment screens are not counted under the "
                    "treatment group); alerts raised by the loads, dated by the assessment they were raised on (pre-treatment "
                    "ones included), and those raised by assessments quarantined at load (escalated all the same), dated "
                    "by their export; alerts on records since withdrawn are not counted; suicidality AE terms in "
                    "long-term signals."),
    ("Long-term signals", "Urinary symptoms, hepatic (AE terms, and from labs one event per blood draw, i.e. per patient "
                          "and collection date, with ALT or AST >= 3 x ULN, collected on or after the first session day: "
                          "an ALT and an AST of the same draw are one event (our rule; the reference does not say how to "
                          "count them); earlier draws are not counted), misuse and abuse, cognitive and suicidality terms "
                          "(clinical-reference 4.4), with the AE-rate denominators above."),
    ("Comparisons", "Risk difference of each group against the reference, Newcombe hybrid-score 95 % CI (statsmodels): "
                    "for routes esketamine intranasal when present, else the largest group; for regimens the largest "
                    "regimen (by patients evaluable). Observational, unadjusted."),
    ("Intervals", "Proportions: Wilson score (default) or Clopper-Pearson (patients with rare events) via statsmodels; rates: "
                  "exact Poisson (Garwood) via statsmodels; mean scores: t interval via scipy."),
    ("Small cells", "No count from 1 to 10 is shown (CMS); where a hidden count could be derived from a total and the other "
                    "cells, the smallest other cell above 10 (or the total) is hidden too. A hidden cell hides all its numbers. "
                    "A number shown in several places is one cell: a treatment group's patients exposed and sessions, "
                    "shown in each of its adverse-event and long-term rows and as the n of their rates, are hidden or "
                    "shown together everywhere, and so are the sessions and patients evaluable of the safety measures "
                    "evaluated on the same sessions (e.g. the blood-pressure rise measures). The difference of "
                    "nested counts (sessions and those with a blood-pressure reading; cumulative patients exposed and "
                    "those screened for suicidality; a month's patients, sessions, adverse events, flagged sessions and "
                    "patients, serious adverse events and suicidality alerts and the cumulative ones of the same group "
                    "and term; responders and responders "
                    "counting missing as non-response) is "
                    "protected as a count; a Kaplan-Meier estimate is hidden when 1 to 10 events had occurred "
                    "by its day, and the Kaplan-Meier chart draws only groups whose counts are shown, from their 11th event. "
                    "Across reports: a count that differs by 1 to 10 from the same count in a report published earlier "
                    "(cumulative this month against last month, a month corrected late, a registry against the pooled "
                    "report; a group's denominators whichever row showed them) is hidden too (the publication ledger, ops.published_counts). Rates, means, patient-years and "
                    "survival estimates are not compared across reports."),
    ("Identifiers", "No patient key, record id, birth date or event date appears; SAEs are counted, not listed."),
]
