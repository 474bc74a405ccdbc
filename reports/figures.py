"""Every number the report shows, as Fig rows, with the cells suppression decides on.

Why one place: figures.csv, the HTML tables and the charts all read the same suppressed Fig rows,
so a number hidden in one is hidden in all, and figures.csv really is every number of the report.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from reports.suppression import Cell, is_small, suppress

CSV_COLUMNS = ["section", "measure", "stratum", "n", "value", "ci_low", "ci_high", "suppressed"]


@dataclass
class Fig:
    section: str
    measure: str
    stratum: str
    n: float | None
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    cell: tuple | None = None
    kind: str = "count"          # count | rate | pct | days | score | py
    suppressed: bool = False
    deps: tuple = ()             # other cells this number reveals something of (hidden with any of them)

    def text(self, ci: bool = True) -> str:
        if self.suppressed:
            return "suppressed"
        v = _fmt(self.value, self.kind)
        if ci and self.ci_low is not None and self.ci_high is not None and _finite(self.ci_low):
            v += f" ({_fmt(self.ci_low, self.kind)}–{_fmt(self.ci_high, self.kind)})"
        return v


def _finite(x) -> bool:
    return x is not None and not (isinstance(x, float) and math.isnan(x))


def _fmt(v, kind: str) -> str:
    if not _finite(v):
        return "–"
    if kind == "pct":
        return f"{100 * v:.1f}%"
    if kind in ("count",):
        return f"{int(round(v)):,}"
    if kind == "py":
        return f"{v:,.1f}"
    if kind == "days":  # a median of hours reads 0.2, not 0
        return f"{v:.1f}" if abs(v) < 2 else f"{v:.0f}"
    return f"{v:.2f}"


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)   # items: str or Fig
    note: str = ""


@dataclass
class Book:
    """Collects figures and cells, then applies suppression once."""
    figs: list[Fig] = field(default_factory=list)
    cells: dict[tuple, Cell] = field(default_factory=dict)
    hidden: set[tuple] = field(default_factory=set)  # the cells apply() hid
    aliases: dict[tuple, list[tuple[str, tuple]]] = field(default_factory=dict)  # key -> (scope, key): reports.ledger

    def cell(self, key: tuple, counts: dict, groups=(), pairs=()) -> tuple:
        """The cell `key` (created, or merged into when the same numbers are shown twice)."""
        counts = {k: int(v) for k, v in counts.items() if _finite(v)}
        c = self.cells.get(key)
        if c is None:
            self.cells[key] = Cell(key, counts, list(groups), list(pairs))
        else:
            c.counts.update(counts)
            c.groups.extend(g for g in groups if g not in c.groups)
            c.pairs.extend(p for p in pairs if p not in c.pairs)
        return key

    def add(self, section, measure, stratum, n, value, ci=(None, None), cell=None, kind="count", deps=()) -> Fig:
        f = Fig(section, measure, stratum, _clean(n), _clean(value), _clean(ci[0]), _clean(ci[1]), cell, kind,
                deps=tuple(deps))
        if cell is None:  # a bare count is its own cell, keyed by what it is (the ledger compares it across months)
            key = ("fig", section, measure, stratum)
            f.cell = self.cell(key if key not in self.cells else key + (len(self.figs),),
                               {"n": n} if kind == "count" else {})
        self.figs.append(f)
        return f

    def apply(self, forced: set[tuple] | frozenset = frozenset()) -> None:
        """Suppress. `forced`: cells hidden whatever their counts (those an earlier report would let
        one derive, reports.ledger), so that complementary suppression protects them too."""
        # A figure whose own n or count is small hides its cell before complementary suppression
        # runs (not after it, which would leave that cell recoverable from its groups).
        forced = set(forced) | {f.cell for f in self.figs
                                if is_small(f.n) or (kind_is_count(f) and is_small(f.value))}
        self.hidden = hidden = suppress(list(self.cells.values()), forced)
        for f in self.figs:
            f.suppressed = f.cell in hidden or any(d in hidden for d in f.deps)

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(CSV_COLUMNS)
            for f in self.figs:
                if f.suppressed:
                    w.writerow([f.section, f.measure, f.stratum, "", "", "", "", "true"])
                else:
                    w.writerow([f.section, f.measure, f.stratum, _num(f.n), _num(f.value), _num(f.ci_low),
                                _num(f.ci_high), "false"])


def kind_is_count(f: Fig) -> bool:
    return f.kind == "count"


def _clean(v):
    if v is None:
        return None
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _num(v) -> str:
    if v is None:
        return ""
    return str(int(v)) if float(v).is_integer() else f"{v:.6g}"
