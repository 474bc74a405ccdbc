"""Intervals and survival estimates, all delegated to statsmodels, scipy and lifelines.

Why a module: every interval in the marts and the report comes from here, so the methods section
can name exactly one method per measure and no formula is written by hand.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.rates import confint_poisson

ALPHA = 0.05
# A Kaplan-Meier estimate (cumulative incidence by a day, a median) is reported only where more
# than this many patients are still at risk: in the tail the curve is a few patients' steps.
MIN_AT_RISK = 10


def proportion_ci(k, n, method: str = "wilson"):
    """95 % CI of k/n. method 'wilson' (default, 7.2) or 'beta' (Clopper-Pearson, rare events).
    Arrays in, arrays out; NaN where n == 0."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = n > 0
    lo = np.full(k.shape, np.nan)
    hi = np.full(k.shape, np.nan)
    if ok.any():
        lo[ok], hi[ok] = proportion_confint(k[ok], n[ok], alpha=ALPHA, method=method)
    return lo, hi


def poisson_rate_ci(k, exposure):
    """Exact (Garwood, 'exact-c') 95 % CI of the rate k / exposure; NaN where exposure == 0."""
    k = np.asarray(k, dtype=float)
    e = np.asarray(exposure, dtype=float)
    lo = np.full(k.shape, np.nan)
    hi = np.full(k.shape, np.nan)
    ok = e > 0
    if ok.any():  # 'exact-c' is vectorised in statsmodels: one call for every cell
        lo[ok], hi[ok] = confint_poisson(k[ok], e[ok], method="exact-c", alpha=ALPHA)
    return lo, hi


def mean_ci(mean, sd, n):
    """t-interval of a mean from its summary (scipy.stats.t.interval); NaN where n < 2."""
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    lo = np.full(mean.shape, np.nan)
    hi = np.full(mean.shape, np.nan)
    ok = (n >= 2) & np.isfinite(sd)
    if ok.any():
        se = sd[ok] / np.sqrt(n[ok])
        lo[ok], hi[ok] = sps.t.interval(1 - ALPHA, n[ok] - 1, loc=mean[ok], scale=np.where(se > 0, se, 1e-12))
    return lo, hi


def risk_difference_ci(k1, n1, k0, n0):
    """Difference k1/n1 - k0/n0 with Newcombe's hybrid score 95 % CI (statsmodels)."""
    if n1 <= 0 or n0 <= 0:
        return np.nan, np.nan, np.nan
    lo, hi = confint_proportions_2indep(k1, n1, k0, n0, method="newcomb", compare="diff", alpha=ALPHA)
    return k1 / n1 - k0 / n0, float(lo), float(hi)


def kaplan_meier(durations, events, label: str = "km") -> tuple[pd.DataFrame, dict]:
    """Kaplan-Meier of time to event (lifelines). Returns the step table (timeline, at_risk,
    cumulative incidence 1 - S(t) and its CI) and a summary (n, events, median with CI)."""
    from lifelines import KaplanMeierFitter
    from lifelines.utils import median_survival_times

    d = np.asarray(durations, dtype=float)
    e = np.asarray(events, dtype=bool)
    kmf = KaplanMeierFitter(alpha=ALPHA)
    kmf.fit(np.maximum(d, 0), e, label=label)
    sf = kmf.survival_function_[label]
    ci = kmf.confidence_interval_
    table = pd.DataFrame({
        "timeline": sf.index.values,
        "at_risk": kmf.event_table["at_risk"].reindex(sf.index).values,
        "cum_incidence": 1 - sf.values,
        "ci_low": 1 - ci.iloc[:, 1].values,
        "ci_high": 1 - ci.iloc[:, 0].values,
        # events up to and including each time: what a reader gets from the curve's height times n
        # where nobody was censored yet (reports.content hides an estimate when it is 1..10)
        "events": kmf.event_table["observed"].cumsum().reindex(sf.index).ffill().fillna(0).astype(int).values,
    })
    med = kmf.median_survival_time_
    mci = median_survival_times(kmf.confidence_interval_)
    shown = np.isfinite(med) and estimable(np.sort(np.maximum(d, 0)), float(med))
    summary = {"n": int(len(d)), "events": int(e.sum()),
               "median": float(med) if shown else None,
               "median_ci_low": _finite(mci.iloc[0, 0]) if shown else None,
               "median_ci_high": _finite(mci.iloc[0, 1]) if shown else None}
    return table, summary


def estimable(sorted_durations, t: float, first_assessed=None) -> bool:
    """Whether a Kaplan-Meier estimate at time t is reported: someone had been assessed by t (else
    the curve is 0 by construction, not by observation: e.g. day 7 of an instrument first given at
    day 28) and more than MIN_AT_RISK patients are still at risk at t (follow-up time >= t).
    sorted_durations: the fit's durations (negative ones as 0), ascending (sorted once per fit;
    binary searches per time point). first_assessed: the earliest first-assessment day of the
    fit's patients when known (else: the earliest event or censoring time)."""
    d = sorted_durations
    first = first_assessed if first_assessed is not None else (d[0] if len(d) else np.inf)
    at_risk = len(d) - int(np.searchsorted(d, t, side="left"))
    return bool(first <= t) and at_risk > MIN_AT_RISK


def km_at(table: pd.DataFrame, t: float, sorted_durations, first_assessed=None) -> tuple[float, float, float]:
    """Cumulative incidence and CI at time t from a kaplan_meier step table; NaN where not
    estimable (estimable(sorted_durations, t, first_assessed) is false)."""
    if not estimable(sorted_durations, t, first_assessed):
        return np.nan, np.nan, np.nan
    rows = table[table["timeline"] <= t]
    if rows.empty:
        return np.nan, np.nan, np.nan
    r = rows.iloc[-1]
    return float(r["cum_incidence"]), float(r["ci_low"]), float(r["ci_high"])


def _finite(x):
    x = float(x)
    return x if np.isfinite(x) else None
