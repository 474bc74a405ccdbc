"""Chart drawing: the work split with a fork, and curves reduced to what a pixel can show."""
from __future__ import annotations

import os
import re
import time

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from reports import charts
from reports.marts import MODELS, SQL_DIR, drop_after


def _job(i: int, size: int = 100, pause: float = 0.05):
    def run() -> str:
        time.sleep(pause)
        return f"{i}:{os.getpid()}:" + "x" * size
    return run


def test_draw_all_returns_every_chart_in_order():
    jobs = [_job(i) for i in range(7)]
    out = charts.draw_all(jobs)
    assert [s.split(":")[0] for s in out] == [str(i) for i in range(7)]


def test_a_chart_larger_than_a_pipe_does_not_stall_the_fork():
    """The fork's first chart (the last job) is 200 KB, more than a pipe holds: the fork must still
    go on to draw others while this process draws, not wait until this process has drawn all."""
    jobs = [_job(i, pause=0.15) for i in range(7)] + [_job(7, size=200_000, pause=0.05)]
    out = charts.draw_all(jobs)
    assert [s.split(":")[0] for s in out] == [str(i) for i in range(8)]
    assert len(out[7]) > 200_000
    pids = [s.split(":")[1] for s in out]
    forked = [i for i, p in enumerate(pids) if p != str(os.getpid())]
    assert 7 in forked and len(forked) >= 3, pids


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=400, allow_nan=False), min_size=1, max_size=5000),
       st.integers(min_value=1, max_value=200))
def test_pixel_steps_keep_the_ends_of_every_column(xs, buckets):
    x = np.sort(np.asarray(xs))
    keep = charts.pixel_steps(x, buckets)
    assert keep[0] == 0 and keep[-1] == len(x) - 1
    assert np.all(np.diff(keep) > 0)
    if len(x) <= 2 * buckets:
        assert len(keep) == len(x)
        return
    assert len(keep) <= 2 * (buckets + 1)
    # every column's first and last point is kept: a monotone curve's values in a column lie
    # between them, so the drawn step curve differs from the whole one within a column only
    span = (x[-1] - x[0]) or 1.0
    col = np.floor((x - x[0]) / span * buckets).astype(int)
    kept = set(keep.tolist())
    for c in np.unique(col):
        at = np.flatnonzero(col == c)
        assert at[0] in kept and at[-1] in kept


def test_km_chart_of_a_long_curve_stays_small():
    n = 20_000
    t = np.sort(np.random.default_rng(3).exponential(20, n))
    curve = pd.DataFrame({"drug": "ketamine", "route": "iv", "timeline": t, "at_risk": np.arange(n, 0, -1) + 20,
                          "cum_incidence": np.arange(1, n + 1) / (n + 1), "ci_low": np.arange(1, n + 1) / (n + 2),
                          "ci_high": np.arange(1, n + 1) / n})
    svg = charts.km(curve, "time to response")
    assert svg.startswith("<svg") and len(svg) < 200_000


def test_intermediates_are_dropped_after_their_last_reader():
    plan = drop_after()
    texts = {m: (SQL_DIR / f"{m}.sql").read_text() for m in MODELS}
    dropped = {t: m for m, ts in plan.items() for t in ts}
    assert {"int_scores", "int_week_scores", "int_ae_terms", "int_sessions", "int_flags"} <= set(dropped)
    for table, at in dropped.items():
        later = MODELS[MODELS.index(at) + 1:]
        assert not any(re.search(rf"\b{table}\b", texts[m]) for m in later), (table, at)
