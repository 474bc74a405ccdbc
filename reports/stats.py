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
    })
    med = kmf.median_survival_time_
    mci = median_survival_times(kmf.confidence_interval_)
    summary = {"n": int(len(d)), "events": int(e.sum()),
               "median": float(med) if np.isfinite(med) else None,
               "median_ci_low": _finite(mci.iloc[0, 0]), "median_ci_high": _finite(mci.iloc[0, 1])}
    return table, summary


def km_at(table: pd.DataFrame, t: float) -> tuple[float, float, float]:
    """Cumulative incidence and CI at time t from a kaplan_meier step table."""
    rows = table[table["timeline"] <= t]
    if rows.empty:
        return 0.0, 0.0, 0.0
    r = rows.iloc[-1]
    return float(r["cum_incidence"]), float(r["ci_low"]), float(r["ci_high"])


def _finite(x):
    x = float(x)
    return x if np.isfinite(x) else None
