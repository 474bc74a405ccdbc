"""Small-cell suppression (CMS rule, clinical-reference 7.3): no count from 1 to 10 is shown, and
no shown number lets one derive such a count.

A cell is one stratum of one table with the counts behind everything shown for it (e.g. events,
patients, sessions). Primary suppression: any count in 1..10. Complementary suppression: cells
can belong to additive groups (parts whose counts sum to a total shown beside them); in a group
with exactly one hidden cell that hidden count could be recovered by subtraction, so a second
cell is hidden too: the smallest shown part whose count is >= 11 (hiding a 0 would not help, a
reader could assume it), else the total. Repeated until nothing changes, because a cell may sit
in several groups (by route, by registry). A hidden cell hides all its numbers (count, rate, CI).
"""
from __future__ import annotations

from dataclasses import dataclass, field

LOW, HIGH = 1, 10


def is_small(v) -> bool:
    try:
        return v is not None and LOW <= int(v) <= HIGH and float(v) == int(v)
    except (TypeError, ValueError):
        return False


@dataclass
class Cell:
    key: tuple
    counts: dict[str, int]
    groups: list[tuple[str, str]] = field(default_factory=list)  # (group id, 'part' | 'total')


def suppress(cells: list[Cell]) -> set[tuple]:
    """Keys of the cells to hide."""
    hidden = {c.key for c in cells if any(is_small(v) for v in c.counts.values())}
    groups: dict[str, list[tuple[Cell, str]]] = {}
    for c in cells:
        for gid, role in c.groups:
            groups.setdefault(gid, []).append((c, role))
    changed = True
    while changed:
        changed = False
        for gid, members in groups.items():
            fields = set().union(*(m.counts.keys() for m, _ in members))
            for f in sorted(fields):
                involved = [(m, r) for m, r in members if f in m.counts]
                n_hidden = sum(1 for m, _ in involved if m.key in hidden)
                if n_hidden != 1:
                    continue
                hidden_cell = next(m for m, _ in involved if m.key in hidden)
                if not hidden_cell.counts.get(f):
                    continue  # a hidden zero reveals nothing
                candidates = sorted((m.counts[f], str(m.key), m) for m, r in involved
                                    if r == "part" and m.key not in hidden and (m.counts[f] or 0) > HIGH)
                if candidates:
                    hidden.add(candidates[0][2].key)
                else:
                    totals = [m for m, r in involved if r == "total" and m.key not in hidden]
                    if not totals:
                        continue
                    hidden.add(totals[0].key)
                changed = True
    return hidden
