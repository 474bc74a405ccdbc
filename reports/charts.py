"""Charts as inline SVG (matplotlib), drawn only from figures that survived suppression, so a
chart never shows a number the tables hide. Each returns an SVG string (no XML prolog)."""
from __future__ import annotations

import io
import mmap
import os
import select
import signal
import struct
import threading
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "ketamine-outcomes", "font.size": 9,
                     "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100})


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _empty(title: str) -> str:
    fig, ax = plt.subplots(figsize=(6.5, 1.2))
    ax.axis("off")
    ax.set_title(title, loc="left")
    ax.text(0.0, 0.3, "No data to plot (no data, or every point suppressed).", transform=ax.transAxes)
    return _svg(fig)


def monthly_bars(points, title: str) -> str:
    pts = [(m, g, f.value) for m, g, f in points if not f.suppressed and f.value is not None]
    if not pts:
        return _empty(title)
    months = sorted({m for m, _, _ in pts})
    groups = sorted({g for _, g, _ in pts})
    fig, ax = plt.subplots(figsize=(6.5, 2.8))
    bottom = [0.0] * len(months)
    for g in groups:
        vals = [next((v for m2, g2, v in pts if m2 == m and g2 == g), 0) for m in months]
        ax.bar(months, vals, bottom=bottom, label=g)
        bottom = [b + v for b, v in zip(bottom, vals)]
    ax.set_title(title, loc="left")
    ax.set_ylabel("sessions")
    ax.legend(fontsize=7, frameon=False)
    ax.tick_params(axis="x", rotation=45)
    return _svg(fig)


def trajectories(points, title: str, kind: str) -> str:
    """points: (group, week, Fig) -> one line per group with a CI band."""
    pts = [(g, w, f) for g, w, f in points if not f.suppressed and f.value is not None]
    if not pts:
        return _empty(title)
    fig, ax = plt.subplots(figsize=(6.5, 3))
    scale = 100 if kind == "pct" else 1
    for g in sorted({g for g, _, _ in pts}):
        ser = sorted((w, f) for gg, w, f in pts if gg == g)
        xs = [w for w, _ in ser]
        ax.plot(xs, [f.value * scale for _, f in ser], marker="o", label=g)
        if all(f.ci_low is not None for _, f in ser):
            ax.fill_between(xs, [f.ci_low * scale for _, f in ser], [f.ci_high * scale for _, f in ser], alpha=0.15)
    ax.set_xscale("symlog", linthresh=4)
    ax.set_xticks([1, 2, 4, 8, 12, 26, 52], ["1", "2", "4", "8", "12", "26", "52"])
    ax.set_xlabel("week since first dose")
    ax.set_ylabel("% responders" if kind == "pct" else "mean score")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def pixel_steps(x, buckets: int = 800):
    """Positions of the points of a step curve (x sorted) worth drawing at `buckets` columns
    across its range: the first and the last point in each column. Why: time to response is
    timed to the minute, so a curve at 10M assessment rows has ~10^4 steps, most of them
    narrower than a hundredth of a pixel; drawn whole, the chart was a 1.4 MB SVG that cost
    matplotlib and Chromium's print ~0.5 s. A monotone curve keeps its exact shape at that
    resolution: within a column its values lie between the first and the last point's."""
    import numpy as np

    x = np.asarray(x, dtype=float)
    if len(x) <= 2 * buckets:
        return np.arange(len(x))
    lo, hi = x[0], x[-1]
    col = np.floor((x - lo) / ((hi - lo) or 1.0) * buckets).astype(np.int64)
    change = col[1:] != col[:-1]
    keep = np.concatenate(([True], change)) | np.concatenate((change, [True]))
    return np.flatnonzero(keep)


def km(curves, title: str, min_at_risk: int = 11) -> str:
    """Cumulative incidence of first response; each curve stops where fewer than 11 remain at risk
    (so no step is drawn from a small risk set) and starts once more than 10 events have occurred
    (column 'events', when given: before that its height times n is a count of 1..10). The caller
    passes only the curves of groups whose cell is shown (reports.content)."""
    if curves is None or len(curves) == 0:
        return _empty(title)
    fig, ax = plt.subplots(figsize=(6.5, 3))
    drawn = False
    for (drug, route), g in curves.groupby(["drug", "route"]):
        keep = g["at_risk"] >= min_at_risk
        if "events" in g:  # nor where the events so far are 1..10 (the height times n gives them)
            keep &= ~g["events"].between(1, 10)
        g = g[keep].sort_values("timeline")
        if len(g) < 2:
            continue
        g = g.iloc[pixel_steps(g["timeline"].to_numpy())]
        ax.step(g["timeline"], 100 * g["cum_incidence"], where="post", label=f"{drug} {route}")
        ax.fill_between(g["timeline"], 100 * g["ci_low"], 100 * g["ci_high"], step="post", alpha=0.15)
        drawn = True
    if not drawn:
        plt.close(fig)
        return _empty(title)
    ax.set_xlabel("days since first dose")
    ax.set_ylabel("% with a first response")
    ax.set_title(title, loc="left")
    ax.legend(fontsize=7, frameon=False)
    return _svg(fig)


def forest(rows, title: str) -> str:
    """rows: (term, group, Fig) -> point and CI per term and group, log-free linear axis."""
    pts = [(t, g, f) for t, g, f in rows if not f.suppressed and f.value is not None and f.ci_high is not None]
    if not pts:
        return _empty(title)
    pts.sort(key=lambda x: (x[0], x[1]))
    fig, ax = plt.subplots(figsize=(6.5, max(2.0, 0.22 * len(pts) + 0.8)))
    groups = sorted({g for _, g, _ in pts})
    colors = {g: f"C{i}" for i, g in enumerate(groups)}
    # one errorbar call per group, not per point: ~100 calls made the forest the slowest chart
    for g in groups:
        at = [(i, f) for i, (_, gg, f) in enumerate(reversed(pts)) if gg == g]
        ax.errorbar([f.value for _, f in at], [i for i, _ in at],
                    xerr=[[f.value - f.ci_low for _, f in at], [f.ci_high - f.value for _, f in at]],
                    fmt="o", color=colors[g], ms=4, capsize=2)
    ax.set_yticks(range(len(pts)), [f"{t} — {g}" for t, g, _ in reversed(pts)], fontsize=7)
    ax.set_xlabel("events per 100 sessions")
    ax.set_title(title, loc="left")
    return _svg(fig)


def draw_all(jobs: list, timeout: float = 30) -> list[str]:
    """Call every chart function of `jobs` (no arguments, each returns an SVG string) and return
    the SVGs in order, drawing them in this process and a forked copy of it at once.

    Why: matplotlib holds the GIL, the charts take ~1 s at 10M rows and nothing else can run until
    they are drawn (the PDF needs them), while the machine's other core is mostly idle. A fork
    needs no new imports (the copy has matplotlib and the data). Each process takes the next job
    from its own end of the list (this one from the front, the copy from the back), under a lock,
    so the two finish within one chart of each other whatever the charts cost (the safety forest
    plot, last, is about half the work). The copy only draws and writes SVG text to a pipe, then
    leaves with os._exit (no cleanup, no garbage collection: the DuckDB connection it inherited
    must not be touched); a chart the copy did not deliver (it failed, died, or took more than
    `timeout` seconds, then it is killed) is drawn here.
    """
    n = len(jobs)
    svgs: list[str | None] = [None] * n
    if n < 2 or not hasattr(os, "fork") or (os.cpu_count() or 1) < 2:
        return [job() for job in jobs]
    counters = mmap.mmap(-1, 8)  # front, back: shared with the fork (MAP_SHARED)
    counters[:] = struct.pack("ii", 0, n)
    lock_r, lock_w = os.pipe()  # a one-byte token in a pipe: a lock both processes can hold
    os.write(lock_w, b"x")
    out_r, out_w = os.pipe()

    def claim(back: bool) -> int | None:
        os.read(lock_r, 1)
        try:
            front, end = struct.unpack("ii", counters[:])
            if front >= end:
                return None
            if back:
                end -= 1
                counters[4:] = struct.pack("i", end)
                return end
            counters[:4] = struct.pack("i", front + 1)
            return front
        finally:
            os.write(lock_w, b"x")

    try:
        pid = os.fork()
    except OSError:
        pid = None
    if pid == 0:  # the copy: draw from the back, send (index, length, SVG), leave without cleanup
        try:
            import gc

            gc.disable()
            os.close(out_r)
            while (i := claim(back=True)) is not None:
                data = jobs[i]().encode()
                view = memoryview(struct.pack("ii", i, len(data)) + data)
                while view:
                    view = view[os.write(out_w, view):]
        finally:
            os._exit(0)
    os.close(out_w)
    try:
        if pid is not None:
            # The copy's SVGs are read while this process draws: a chart larger than the pipe's
            # buffer (64 KiB; the forest plot is ~120 KB) would otherwise block the copy until this
            # process had drawn everything else, and it then drew one chart instead of half of them.
            buf = bytearray()
            deadline = time.monotonic() + timeout
            timed_out = threading.Event()

            def drain() -> None:
                try:
                    while select.select([out_r], [], [], max(0.0, deadline - time.monotonic()))[0]:
                        chunk = os.read(out_r, 1 << 20)
                        if not chunk:
                            return
                        buf.extend(chunk)
                except (OSError, ValueError):  # the pipe closed under it: this process's drawing failed
                    return
                timed_out.set()

            reader = threading.Thread(target=drain, name="charts-pipe", daemon=True)
            reader.start()
            while (i := claim(back=False)) is not None:
                svgs[i] = jobs[i]()
            reader.join()
            if timed_out.is_set():
                os.kill(pid, signal.SIGKILL)  # too slow: what it sent is kept, the rest drawn here
            os.waitpid(pid, 0)
            at = 0
            while at + 8 <= len(buf):
                i, size = struct.unpack_from("ii", buf, at)
                if at + 8 + size > len(buf):
                    break
                svgs[i] = bytes(buf[at + 8:at + 8 + size]).decode()
                at += 8 + size
    finally:
        for fd in (out_r, lock_r, lock_w):
            os.close(fd)
        counters.close()
    return [svg if svg is not None else job() for svg, job in zip(svgs, jobs)]
