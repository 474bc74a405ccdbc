"""Knobs of the clinical model, with defaults taken from docs/clinical-reference.md.

Tests plant known rates by passing their own CohortParams; `CohortParams()` is the realistic
cohort. Where a default is a published figure the reference tag is given; the rest are
engineering guesses (marked "guess") that only need to look plausible.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

ROUTES = ("esketamine_intranasal", "ketamine_iv", "ketamine_im", "ketamine_oral")


@dataclass(frozen=True)
class AETerm:
    """A MedDRA preferred term as the generator uses it."""
    meddra_code: str            # "" unless the reference VERIFIED the code (§4.2)
    kind: str                   # "acute": on a dosing day, tied to the session; "late": weeks later
    verbatims: tuple[str, ...]  # what a clinician might type; some need CSV quoting on purpose


# Codes only where clinical-reference §4.2 lists them as PT = LLT; the rest are left empty
# rather than invented (the reference says not to hard-code them).
AE_TERMS: dict[str, AETerm] = {
    "Nausea": AETerm("10028813", "acute", ("nausea", "Nausea", "felt sick, nauseated", "nauseous after dose")),
    "Dissociation": AETerm("", "acute", ("dissociation", "felt detached from body", '"out of body" feeling', "Dissociative episode")),
    "Dizziness": AETerm("10013573", "acute", ("dizziness", "Dizzy", "lightheaded, dizzy")),
    "Vertigo": AETerm("10047340", "acute", ("vertigo", "room spinning")),
    "Headache": AETerm("10019211", "acute", ("headache", "Headache", "mild headache after session")),
    "Somnolence": AETerm("10041349", "acute", ("somnolence", "drowsy", "sleepy after treatment")),
    "Dysgeusia": AETerm("10013911", "acute", ("bad taste", "dysgeusia", "bitter taste in mouth")),
    "Hypoaesthesia oral": AETerm("", "acute", ("numb mouth", "oral numbness")),
    "Paraesthesia": AETerm("", "acute", ("tingling", "pins and needles in hands")),
    "Vomiting": AETerm("10047700", "acute", ("vomiting", "vomited once")),
    "Fatigue": AETerm("10016256", "acute", ("fatigue", "tired, low energy")),
    "Anxiety": AETerm("10002855", "acute", ("anxiety", "anxious during session")),
    "Blood pressure increased": AETerm("", "acute", ("BP increased", "elevated blood pressure", "hypertensive reading post dose")),
    "Vision blurred": AETerm("", "acute", ("blurred vision", "vision blurry")),
    "Sedation": AETerm("", "acute", ("sedation", "sedated")),
    "Lethargy": AETerm("10024264", "acute", ("lethargy", "lethargic")),
    "Feeling drunk": AETerm("", "acute", ("feeling drunk", 'felt "drunk"')),
    "Tremor": AETerm("10044565", "acute", ("tremor", "shaky hands")),
    "Suicidal ideation": AETerm("10042458", "late", ("suicidal thoughts", "passive suicidal ideation")),
    # long-term signals (§4.4)
    "Pollakiuria": AETerm("", "late", ("urinary frequency", "frequent urination", "pollakiuria")),
    "Dysuria": AETerm("", "late", ("dysuria", "painful urination")),
    "Cystitis": AETerm("", "late", ("cystitis", "bladder inflammation, ketamine-related?")),
    "Drug abuse": AETerm("", "late", ("ketamine misuse outside clinic", "drug abuse")),
    "Intentional product misuse": AETerm("", "late", ("took extra doses", "intentional misuse")),
}

# Serious events: (meddra_pt, meddra_code, criterion, share of SAEs, tied to a session)
SAE_TERMS: tuple[tuple[str, str, str, float, bool], ...] = (
    ("Suicide attempt", "10042464", "hospitalization", 0.35, False),
    ("Depression", "", "hospitalization", 0.30, False),
    ("Suicidal ideation", "10042458", "hospitalization", 0.15, False),
    ("Hypertension", "10020772", "medically_important", 0.10, True),
    ("Syncope", "10042772", "medically_important", 0.10, True),
)
ALT_INCREASED = ("Alanine aminotransferase increased", "10001551")


def _default_ae_incidence() -> dict[str, float]:
    # Per-patient incidence over the course, esketamine arm of TRANSFORM-1 [R15]; urinary from
    # [R13]; suicidal ideation and misuse are guesses.
    return {
        "Nausea": 0.294, "Dissociation": 0.268, "Dizziness": 0.251, "Vertigo": 0.208,
        "Headache": 0.203, "Somnolence": 0.195, "Dysgeusia": 0.160, "Hypoaesthesia oral": 0.121,
        "Paraesthesia": 0.130, "Vomiting": 0.091, "Fatigue": 0.087, "Anxiety": 0.082,
        "Blood pressure increased": 0.082, "Vision blurred": 0.074, "Sedation": 0.061,
        "Lethargy": 0.052, "Feeling drunk": 0.043, "Tremor": 0.043, "Suicidal ideation": 0.03,
        "Pollakiuria": 0.035, "Dysuria": 0.012, "Cystitis": 0.005,
        "Drug abuse": 0.003, "Intentional product misuse": 0.002,
    }


@dataclass(frozen=True)
class CohortParams:
    """Rates of the synthetic cohort. Probabilities are per patient unless named per session."""

    route_mix: Mapping[str, float] = field(default_factory=lambda: {
        "esketamine_intranasal": 0.45, "ketamine_iv": 0.42, "ketamine_im": 0.07, "ketamine_oral": 0.06})
    # ≥ 50 % reduction at some point; guesses in the range of the trials in §1.3
    response_prob: Mapping[str, float] = field(default_factory=lambda: {
        "esketamine_intranasal": 0.50, "ketamine_iv": 0.55, "ketamine_im": 0.50, "ketamine_oral": 0.35})
    early_response_share: float = 0.5       # responders reaching 50 % within day 1-7 (else week 2-8)
    relapse_prob: float = 0.3               # of responders (SUSTAIN-1 order of magnitude [R16])
    stop_if_nonresponse_prob: float = 0.6   # non-responders stopping after induction [R9]
    induction_dropout_prob: float = 0.08
    dropout_per_session: float = 0.01       # after induction
    missed_session_prob: float = 0.04       # per scheduled session, adds a week
    biweekly_maintenance_share: float = 0.6  # week 9+: every 2 weeks rather than weekly [R9]
    esketamine_84mg_share: float = 0.61     # Study 2 [R9]
    ae_incidence: Mapping[str, float] = field(default_factory=_default_ae_incidence)
    # multiplier of ae_incidence by route (the incidences are esketamine figures; guess)
    ae_route_factor: Mapping[str, float] = field(default_factory=lambda: {
        "esketamine_intranasal": 1.0, "ketamine_iv": 0.8, "ketamine_im": 0.9, "ketamine_oral": 0.5})
    ae_recurrence_per_session: float = 0.05  # an acute AE coming back at a later session
    sae_rate: float = 0.03
    # per session: a BP surge of +25..+45 systolic at 40 min (label: 8-19 % of esketamine
    # patients >= +40 systolic and/or +25 diastolic at least once in 4 weeks [R4])
    bp_surge_prob: Mapping[str, float] = field(default_factory=lambda: {
        "esketamine_intranasal": 0.012, "ketamine_iv": 0.005, "ketamine_im": 0.006, "ketamine_oral": 0.002})
    desaturation_prob: float = 0.002        # per session, SpO2 85-91 at 40 min
    sedation_prob: float = 0.12             # per session, MOAA/S 2-4 at 40 min
    loss_of_consciousness_prob: float = 0.0005  # per session, MOAA/S 0 [R4]: 0.3-0.4 % of patients
    rems_deviation_prob: float = 0.01       # esketamine monitored < 120 min
    labs_share: float = 0.6                 # patients with liver tests
    hepatic_signal_prob: float = 0.02       # of lab patients: ALT/AST rise on treatment [R45]
    correction_rate: float = 0.003          # records first sent wrong and corrected in the next export
    withdrawal_rate: float = 0.01           # patients withdrawn (absent from the last full export)
    record_withdrawal_rate: float = 0.002   # stand-alone assessments deleted as entered in error
    n_sites: int = 3

    def __post_init__(self):
        for name in ("route_mix", "response_prob", "ae_route_factor", "bp_surge_prob"):
            unknown = set(getattr(self, name)) - set(ROUTES)
            if unknown:
                raise ValueError(f"{name}: unknown routes {sorted(unknown)}")
        unknown = set(self.ae_incidence) - set(AE_TERMS)
        if unknown:
            raise ValueError(f"ae_incidence: unknown terms {sorted(unknown)}")
        if sum(self.route_mix.values()) <= 0:
            raise ValueError("route_mix must have a positive weight")
        probs = [*self.response_prob.values(), *self.ae_incidence.values(), *self.bp_surge_prob.values(),
                 self.early_response_share, self.relapse_prob, self.stop_if_nonresponse_prob,
                 self.induction_dropout_prob, self.dropout_per_session, self.missed_session_prob,
                 self.biweekly_maintenance_share, self.esketamine_84mg_share, self.ae_recurrence_per_session,
                 self.sae_rate, self.desaturation_prob, self.sedation_prob, self.loss_of_consciousness_prob,
                 self.rems_deviation_prob, self.labs_share, self.hepatic_signal_prob, self.correction_rate,
                 self.withdrawal_rate, self.record_withdrawal_rate]
        if any(not 0.0 <= p <= 1.0 for p in probs):
            raise ValueError("probabilities must lie in [0, 1]")
        if not 1 <= self.n_sites <= 20:
            raise ValueError("n_sites must be 1-20")

    def route_weights(self) -> list[float]:
        w = [float(self.route_mix.get(r, 0.0)) for r in ROUTES]
        s = sum(w)
        return [x / s for x in w]
