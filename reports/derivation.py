"""What a reader can solve for: the hidden counts that the shown ones determine, through every
additive group at once.

Complementary suppression (reports.suppression) hides a second cell wherever a group has exactly
one hidden count, which protects each group taken alone. Groups share cells, though (a route's row
is a part of 'all routes' and the total of its dose bands; a month's row is in its month's table and
nested in its cumulative row), and a reader may combine their equations: in a table with row and
column totals, two hidden pairs joined by a third hidden cell that is the only link between them
leave that cell determined although no row or column has one hidden cell. And the hidden parts of
one group, taken together, are a count as well (patients of either of two strata): 4 + 3 hidden
beside a shown total gives 7.

Each count field (patients, sessions, events ...) is a linear system of its own: one equation per
group and total (parts - total = 0); the unknowns are the hidden cells' counts and the counts no
figure shows (Cell.unshown); the rest are known. An unknown, or a sum of unknowns, is determined
exactly when its coefficient vector is orthogonal to the null space of the equations restricted to
the unknowns. The system splits into components (unknowns linked by an equation), each solved with
a singular value decomposition, so a report's ~2,000 cells cost milliseconds per field.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOL = 1e-8


def _null_space(m: np.ndarray) -> np.ndarray:
    """An orthonormal basis of {x : m x = 0}, as columns (numpy's SVD; scipy.linalg costs 0.3 s to import)."""
    _, s, vh = np.linalg.svd(m)
    rank = int((s > TOL * max(1.0, s.max(initial=0.0))).sum())
    return vh[rank:].T.conj()


@dataclass
class Member:
    cell: object  # reports.suppression.Cell
    role: str     # 'part' | 'total'
    fields: tuple | None


@dataclass(frozen=True)
class Leak:
    """A count in 1..10 (or a protected cell's count) that the shown cells determine."""
    fields: tuple        # the count fields that are all determined (two for a complement n - k)
    keys: tuple          # the hidden cells whose count (or sum of counts) is determined
    value: int
    group: str | None    # the group whose hidden parts sum to it, for a sum; None for one cell
    scope: frozenset = frozenset()  # the unknowns of its component (hiding a cell changes their solutions)


def group_members(cells) -> dict[str, list[Member]]:
    groups: dict[str, list[Member]] = {}
    for c in cells:
        for g in c.groups:
            groups.setdefault(g[0], []).append(Member(c, g[1], tuple(g[2]) if len(g) > 2 else None))
    return groups


def involved(members: list[Member], field: str) -> list[Member]:
    return [m for m in members if field in m.cell.counts and (m.fields is None or field in m.fields)]


class Model:
    """The cells and their groups as equations, per count field; built once per suppression (the
    equations do not depend on what is hidden, only which counts are unknown does)."""

    def __init__(self, cells):
        self.cells = cells
        self.groups = group_members(cells)
        self.unshown = {c.key for c in cells if c.unshown}
        self._fields: dict = {}

    def field(self, f: str) -> tuple[dict, dict, list]:
        """(values by key, involved members by group, equations) of one count field."""
        if f not in self._fields:
            value = {c.key: c.counts[f] for c in self.cells if f in c.counts}
            inv = {gid: x for gid, ms in self.groups.items() if (x := involved(ms, f))}
            eqs = []
            for gid, ms in inv.items():
                parts = [m.cell.key for m in ms if m.role == "part"]
                for t in (m.cell.key for m in ms if m.role == "total"):
                    eq: dict = {}
                    for k in parts:  # parts - total = 0
                        eq[k] = eq.get(k, 0) + 1
                    eq[t] = eq.get(t, 0) - 1
                    if parts:
                        eqs.append({k: v for k, v in eq.items() if v})
            self._fields[f] = (value, inv, eqs)
        return self._fields[f]

    def system(self, f: str, hidden: set) -> "FieldSystem":
        return FieldSystem(self, f, hidden | self.unshown)


class FieldSystem:
    """The equations of one count field, restricted to its unknowns and split into components."""

    def __init__(self, model: Model, field: str, unknown: set):
        self.field = field
        self.value, self.inv, eqs = model.field(field)
        self.unknown = {k for k in unknown if k in self.value}
        parent: dict = {}

        def find(k):
            while parent.setdefault(k, k) != k:
                parent[k] = parent[parent[k]]
                k = parent[k]
            return k

        restricted = []
        for eq in eqs:
            u = {k: v for k, v in eq.items() if k in self.unknown}
            if not u:
                continue
            restricted.append(u)
            first = next(iter(u))
            for k in u:
                parent[find(k)] = find(first)
        self.component = {k: find(k) for k in parent}
        self.rows: dict = {}     # component root -> its equations
        self.members: dict = {}  # component root -> its unknowns
        for u in restricted:
            self.rows.setdefault(self.component[next(iter(u))], []).append(u)
        for k, r in self.component.items():
            self.members.setdefault(r, []).append(k)
        self._null: dict = {}

    def scope(self, *keys) -> frozenset:
        return frozenset(k for key in keys for k in self.members.get(self.component.get(key), ()))

    def _basis(self, root):
        """(column index by key, null-space basis) of one component."""
        if root not in self._null:
            keys = sorted(self.members[root], key=repr)
            col = {k: i for i, k in enumerate(keys)}
            rows = self.rows[root]
            m = np.zeros((len(rows), len(keys)))
            for i, u in enumerate(rows):
                for k, v in u.items():
                    m[i, col[k]] = v
            self._null[root] = (col, _null_space(m))
        return self._null[root]

    def determined(self, keys) -> bool:
        """Whether the sum of these unknowns' counts follows from the shown counts."""
        by_root: dict = {}
        for k in keys:
            if k not in self.component:
                return False  # an unknown in no equation is free
            by_root.setdefault(self.component[k], []).append(k)
        for root, ks in by_root.items():  # a sum over several components: each part must be
            col, basis = self._basis(root)
            if basis.shape[1] == 0:
                continue
            vec = np.zeros(len(col))
            for k in ks:
                vec[col[k]] += 1
            if np.abs(vec @ basis).max() > TOL * max(1, len(col)):
                return False
        return True


def leaks(model: Model, hidden: set, protected: set, small) -> list[Leak]:
    """Every determined count that must not be: a hidden or unshown cell's count in 1..10 (or any
    non-zero count of a protected cell: one an earlier report would let one derive), a hidden cell's
    complement n - k in 1..10 with both n and k determined, and the sum of a group's hidden parts in
    1..10 (those parts together are a count too). Ordered by field and key, so suppression's choices
    do not depend on set order."""
    unknown = hidden | model.unshown
    cells = [c for c in model.cells if c.key in unknown]
    if not cells:
        return []
    systems = {f: model.system(f, hidden) for f in sorted({f for c in cells for f in c.counts})}
    out: list[Leak] = []
    det: dict = {}  # (key, field) -> determined
    for f, fs in systems.items():
        for k in sorted(fs.unknown, key=repr):
            det[k, f] = fs.determined([k])
            v = fs.value[k]
            if det[k, f] and v and (small(v) or k in protected):
                out.append(Leak((f,), (k,), v, None, fs.scope(k)))
    for c in sorted(cells, key=lambda c: repr(c.key)):
        for n, k in c.pairs:
            if n in c.counts and k in c.counts and small(c.counts[n] - c.counts[k]) \
                    and det.get((c.key, n)) and det.get((c.key, k)):
                out.append(Leak((n, k), (c.key,), c.counts[n] - c.counts[k], None,
                                systems[n].scope(c.key) | systems[k].scope(c.key)))
    for f, fs in systems.items():
        for gid, inv in sorted(fs.inv.items()):
            parts = sorted({m.cell.key for m in inv if m.role == "part" and m.cell.key in fs.unknown}, key=repr)
            if len(parts) < 2:
                continue  # one hidden part: the single-cell check above
            total = sum(fs.value[k] for k in parts)
            if small(total) and fs.determined(parts):
                out.append(Leak((f,), tuple(parts), total, gid, fs.scope(*parts)))
    return out


def still_determined(model: Model, hidden: set, leak: Leak) -> bool:
    """Whether `leak` still holds with `hidden` hidden (to choose a cell that resolves it)."""
    return all(model.system(f, hidden).determined(leak.keys) for f in leak.fields)
