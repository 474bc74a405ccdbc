"""Small-cell suppression (CMS rule, clinical-reference 7.3, export contract section 5): no count
from 1 to 10 is shown, and no shown number lets one derive such a count.

A cell is one stratum of one table with the counts behind everything shown for it (e.g. events,
patients, sessions). A hidden cell hides all its numbers (count, rate, CI).

Primary suppression: any count in 1..10, or any complement in 1..10: a cell declares pairs
(denominator, numerator) such as (evaluable, responders); n - k is as good as shown when n and k
are (non-responders, patients without an event), so it is a count too.

Complementary suppression: cells belong to additive groups (parts whose counts sum to a total
shown beside them, e.g. dose bands of one route and the route's row; every set of cells that sum
to a shown total must be given a group, with the total in it). In a group with exactly one hidden
cell that hidden count could be recovered by subtraction, so a second cell is hidden too: the
smallest shown part whose count is >= 11 (hiding a 0 would not help, a reader could assume it),
else the total; a part that no figure shows (a nested difference, Cell.unshown) is taken first,
as hiding it costs nothing. Repeated until nothing changes, because a cell may sit in several groups (by
route, by registry, by dose band). A group membership is (group id, 'part' | 'total') for all the
cell's counts, or (group id, role, fields) when only those counts add up (e.g. events of
preferred terms sum to 'any adverse event', patients do not).

Then all groups at once (reports.derivation): a reader may combine the equations of several
groups, so more cells are hidden until no hidden count in 1..10 (no count of a forced cell, no
complement of a hidden cell) is determined by them, nor any sum of a group's hidden parts (or of
their complements) in 1..10: those parts together are a count too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from reports import derivation

LOW, HIGH = 1, 10
log = logging.getLogger(__name__)


def is_small(v) -> bool:
    try:
        return v is not None and LOW <= int(v) <= HIGH and float(v) == int(v)
    except (TypeError, ValueError):
        return False


@dataclass
class Cell:
    key: tuple
    counts: dict[str, int]
    groups: list[tuple] = field(default_factory=list)  # (group id, 'part' | 'total'[, fields])
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (denominator, numerator): n - k is a count
    unshown: bool = False  # no figure shows it (a nested difference): hiding it costs nothing


def complements(cell: Cell) -> list[int]:
    """n - k for every declared (n, k) pair whose counts the cell has."""
    return [cell.counts[n] - cell.counts[k] for n, k in cell.pairs if n in cell.counts and k in cell.counts]


def needs_primary(cell: Cell) -> bool:
    return any(is_small(v) for v in cell.counts.values()) or any(is_small(d) for d in complements(cell))


def suppress(cells: list[Cell], forced: set[tuple] | frozenset = frozenset()) -> set[tuple]:
    """Keys of the cells to hide. `forced`: keys hidden whatever their counts (primary too, so
    complementary suppression protects them)."""
    hidden = {c.key for c in cells if needs_primary(c)} | set(forced)
    protected = set(forced)
    model = derivation.Model(cells)
    groups = model.groups
    # the one-hidden rule within each group, then whatever all groups together still determine
    _one_hidden(groups, hidden)
    found = derivation.leaks(model, hidden, protected, is_small)
    given_up: set = set()
    while found:
        # one leak per component a round: hiding a cell changes its component's solutions
        done: set = set()
        left = []
        for leak in found:
            if done and not derivation.still_determined(model, hidden, leak):
                continue  # freed by what this round hid already
            if leak.scope & done:
                left.append(leak)  # its component changed this round: looked at again in the next
                continue
            extra = _resolve(model, hidden, leak)
            if not extra:
                # only with counts that contradict their groups (a determined value that is not the
                # count): nothing beside the leak is shown, so nothing hiding more could change
                given_up.add(_same(leak))
                log.warning("suppression: a count is determined by cells that are all hidden, so the marts' "
                            "counts contradict their groups (%d-cell leak left as it is)", len(leak.keys))
                continue
            hidden.update(extra)
            done |= leak.scope
            left.append(leak)
        _one_hidden(groups, hidden)
        found = derivation.recheck(model, hidden, left)
        if not found:  # a last full check: cheap, and no argument about what cannot reappear is needed
            found = [lk for lk in derivation.leaks(model, hidden, protected, is_small) if _same(lk) not in given_up]
    return hidden


def _same(leak) -> tuple:
    """A leak without its scope (which changes as more is hidden)."""
    return leak.fields, leak.keys, leak.group


def _resolve(model, hidden: set, leak) -> set:
    """The cells to hide so that `leak` is no longer determined: of the cells shown in the groups of
    the leaking cells (else in any group of its component), the first (smallest part above 10, then
    a total) whose hiding frees it, else the first (the next round looks again); failing those,
    every cell shown in those groups."""
    shown_near: set = set()
    for near in (set(leak.keys), set(leak.scope)):
        cands = set()
        for f in leak.fields:
            for inv in model.field(f)[1].values():  # each group's members counting f
                if not any(m.cell.key in near for m in inv):
                    continue
                for m in inv:
                    c = m.cell
                    if c.key in hidden or c.unshown:
                        continue
                    shown_near.add(c.key)
                    if m.role == "part" and (c.counts[f] or 0) > HIGH:
                        cands.add((0, c.counts[f], repr(c.key), c.key))
                    elif m.role == "total":
                        cands.add((1, c.counts[f], repr(c.key), c.key))
        ordered = sorted(cands)
        for *_, key in ordered[:8]:
            if not derivation.still_determined(model, hidden | {key}, leak):
                return {key}
        if ordered:
            return {ordered[0][3]}
    return shown_near


def _one_hidden(groups: dict, hidden: set) -> None:
    """Within each group: exactly one hidden non-zero count gets a second cell hidden beside it.
    `groups`: derivation.group_members."""
    changed = True
    while changed:
        changed = False
        for gid, members in groups.items():
            fields = set().union(*(x.cell.counts.keys() if x.fields is None else set(x.fields) & x.cell.counts.keys()
                                   for x in members))
            for f in sorted(fields):
                involved = [(x.cell, x.role) for x in derivation.involved(members, f)]
                hid = [m for m, _ in involved if m.key in hidden]
                if len(hid) != 1:
                    continue
                if not hid[0].counts.get(f):
                    continue  # a hidden zero reveals nothing
                # a cell no figure shows is hidden first (free), then the smallest shown part
                candidates = sorted((not m.unshown, m.counts[f], str(m.key), m) for m, r in involved
                                    if r == "part" and m.key not in hidden and (m.counts[f] or 0) > HIGH)
                if candidates:
                    hidden.add(candidates[0][3].key)
                else:
                    totals = [m for m, r in involved if r == "total" and m.key not in hidden]
                    if not totals:
                        continue
                    hidden.add(totals[0].key)
                changed = True
