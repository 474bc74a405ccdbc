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

import heapq
import logging
from dataclasses import dataclass

import numpy as np

TOL = 1e-8
log = logging.getLogger(__name__)


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


def _components(rows: list[dict]) -> dict:
    """{unknown: its component's root}: unknowns linked by an equation (union-find)."""
    parent: dict = {}

    def find(k):
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for u in rows:
        first = next(iter(u))
        for k in u:
            parent[find(k)] = find(first)
    return {k: find(k) for k in parent}


class FieldSystem:
    """The equations of one count field, restricted to its unknowns.

    Before any decomposition, unknowns that occur in one equation only are eliminated (that equation
    then only says what they are in terms of the others, so it constrains nothing else): the
    unshown difference of every nested pair is such an unknown, and eliminating them first shrinks
    the largest system of a report (AE terms: 325 unknowns) to the groups that really add up. What
    is left is split into connected components, each solved once by SVD."""

    def __init__(self, model: Model, field: str, unknown: set):
        self.value, self.inv, eqs = model.field(field)
        self.unknown = {k for k in unknown if k in self.value}
        rows = [u for eq in eqs if (u := {k: v for k, v in eq.items() if k in self.unknown})]
        # components before elimination: what a leak's resolution may change
        self.component = _components(rows)
        self.members: dict = {}
        for k, r in self.component.items():
            self.members.setdefault(r, []).append(k)
        self._eliminate(rows)
        self._null: dict = {}

    def _eliminate(self, rows: list[dict]) -> None:
        occurs: dict = {}
        for i, u in enumerate(rows):
            for k in u:
                occurs.setdefault(k, set()).add(i)
        alive = [True] * len(rows)
        queue = sorted((k for k, o in occurs.items() if len(o) == 1), key=repr)
        self.step: dict = {}   # eliminated unknown -> (order, {other unknown: coefficient} or None: a constant)
        while queue:
            k = queue.pop()
            if k in self.step or len(occurs[k]) != 1:
                continue
            i = next(iter(occurs[k]))
            u = rows[i]
            others = {w: -c / u[k] for w, c in u.items() if w != k}
            self.step[k] = (len(self.step), others or None)
            alive[i] = False
            for w in u:
                occurs[w].discard(i)
                if w != k and len(occurs[w]) == 1:
                    queue.append(w)
        core = [u for i, u in enumerate(rows) if alive[i]]
        self.core = _components(core)
        self.rows: dict = {}     # core component root -> its equations
        self.core_members: dict = {}
        for u in core:
            self.rows.setdefault(self.core[next(iter(u))], []).append(u)
        for k, r in self.core.items():
            self.core_members.setdefault(r, []).append(k)

    def scope(self, *keys) -> frozenset:
        return frozenset(k for key in keys for k in self.members.get(self.component.get(key), ()))

    def _basis(self, root):
        """(column index by key, null-space basis) of one core component."""
        if root not in self._null:
            keys = sorted(self.core_members[root], key=repr)
            col = {k: i for i, k in enumerate(keys)}
            rows = self.rows[root]
            m = np.zeros((len(rows), len(keys)))
            for i, u in enumerate(rows):
                for k, v in u.items():
                    m[i, col[k]] = v
            self._null[root] = (col, _null_space(m))
        return self._null[root]

    def signature(self, keys) -> dict:
        """What must vanish for the sum of these unknowns' counts to follow from the shown counts: its
        coefficients on unknowns left in no equation ('free') and its projection on each core
        component's null space. Linear in the keys, so a subset's signature is the sum of its parts'."""
        vec: dict = {}
        for k in keys:
            vec[k] = vec.get(k, 0) + 1
        # substitute eliminated unknowns, in the order they were eliminated (each one's expression
        # holds only unknowns eliminated after it or left in the core)
        heap = [(self.step[k][0], repr(k), k) for k in vec if k in self.step]
        heapq.heapify(heap)
        while heap:
            _, _, k = heapq.heappop(heap)
            c = vec.pop(k, 0)
            expr = self.step[k][1]
            if not c or expr is None:
                continue  # a constant: determined by its equation alone
            for w, a in expr.items():
                if w in self.step and w not in vec:
                    heapq.heappush(heap, (self.step[w][0], repr(w), w))
                vec[w] = vec.get(w, 0) + c * a
        out: dict = {}
        by_root: dict = {}
        for k, c in vec.items():
            if abs(c) <= TOL:
                continue
            if k not in self.core:
                out[("free", k)] = c  # in no equation left: free
            else:
                by_root.setdefault(self.core[k], {})[k] = c
        for root, part in by_root.items():
            col, basis = self._basis(root)
            if basis.shape[1] == 0:
                continue
            v = np.zeros(len(col))
            for k, c in part.items():
                v[col[k]] = c
            for j, x in enumerate(v @ basis):
                out[("core", root, j)] = x
        return out

    def determined(self, keys) -> bool:
        """Whether the sum of these unknowns' counts follows from the shown counts."""
        return vanishes(self.signature(keys))


def vanishes(sig: dict) -> bool:
    return all(abs(x) <= TOL * 100 for x in sig.values())


def leaks(model: Model, hidden: set, protected: set, small) -> list[Leak]:
    """Every determined count that must not be: a hidden or unshown cell's count in 1..10 (or any
    non-zero count of a protected cell: one an earlier report would let one derive), a hidden cell's
    complement n - k in 1..10 with both n and k determined, and any sum of a group's hidden parts (or
    of their complements) in 1..10 (those parts together are a count too). Ordered by field and key,
    so suppression's choices do not depend on set order."""
    unknown = hidden | model.unshown
    cells = [c for c in model.cells if c.key in unknown]
    if not cells:
        return []
    systems = {f: model.system(f, hidden) for f in sorted({f for c in cells for f in c.counts})}
    out: list[Leak] = []
    for f, fs in systems.items():
        for k in sorted(fs.unknown, key=repr):
            v = fs.value[k]
            if v and (small(v) or k in protected) and fs.determined([k]):
                out.append(Leak((f,), (k,), v, None, fs.scope(k)))
    for c in sorted(cells, key=lambda c: repr(c.key)):
        for n, k in c.pairs:
            if n in c.counts and k in c.counts and small(c.counts[n] - c.counts[k]) \
                    and systems[n].determined([c.key]) and systems[k].determined([c.key]):
                out.append(Leak((n, k), (c.key,), c.counts[n] - c.counts[k], None,
                                systems[n].scope(c.key) | systems[k].scope(c.key)))
    # Several hidden parts of one group together are a count too (patients of either stratum), and
    # so is their complement sum (patients of either stratum without the event): any such subset
    # whose sum is 1..10 must not be determined, in each field it needs.
    by_key = {c.key: c for c in model.cells}
    parts_of: dict = {}  # gid -> field -> its hidden parts (groups with two or more only)
    for f, fs in systems.items():
        for gid, inv in fs.inv.items():
            ps = {m.cell.key for m in inv if m.role == "part" and m.cell.key in fs.unknown}
            if len(ps) >= 2:
                parts_of.setdefault(gid, {})[f] = ps
    for gid in sorted(parts_of):
        by_field = parts_of[gid]
        quantities = [((f,), {k: systems[f].value[k] for k in ps}) for f, ps in sorted(by_field.items())]
        pairs = sorted({p for ps in by_field.values() for k in ps for p in by_key[k].pairs})
        for n, k in pairs:
            if n in by_field and k in by_field:
                both = by_field[n] & by_field[k]
                quantities.append(((n, k), {x: systems[n].value[x] - systems[k].value[x] for x in both}))
        for fields, values in quantities:
            for subset in _determined_small_subsets(values, [systems[f] for f in fields], small):
                scope = frozenset().union(*(systems[f].scope(*subset) for f in fields))
                out.append(Leak(fields, subset, sum(values[x] for x in subset), gid, scope))
    return out


SUBSETS = 50_000  # subsets of one group's small hidden parts tried at most (then logged)


def _determined_small_subsets(values: dict, systems: list, small) -> list[tuple]:
    """The sets of these hidden parts whose values sum to 1..10 and whose sum is determined in every
    one of `systems`, as far as it matters: two parts or more, or one part with parts of 0. Only
    parts of 0..10 can be in one. A part's signature (FieldSystem.signature) is linear, so a set's
    sum is determined exactly when its indicator v solves S v = 0, S holding the parts' signatures as
    columns. Parts of 0 change no sum, so they are not searched: a set of parts above 0 counts when
    S_pos v + S_zero z = 0 for some z at all (any real z: this can only flag more), i.e. when v is in
    the null space of S_pos with the zero parts' columns projected out. That space is usually {0}
    (nothing to search) or one line (one candidate: the support of its basis vector, if that vector
    is constant there); else its support is searched in increasing value while the sum stays at most
    10. A search that would pass SUBSETS sets stops and returns the whole support as one set, which
    hides more rather than leaving a sum unchecked."""
    pos = sorted((k for k, v in values.items() if 0 < v <= 10), key=lambda k: (values[k], repr(k)))
    zeros = sorted((k for k, v in values.items() if v == 0), key=repr)
    if not pos or len(pos) + len(zeros) < 2:
        return []
    sigs = {k: [fs.signature([k]) for fs in systems] for k in pos + zeros}
    coords = sorted({(j, c) for per in sigs.values() for j, sg in enumerate(per) for c in sg}, key=repr)
    index = {c: r for r, c in enumerate(coords)}

    def columns(keys):
        m = np.zeros((len(coords), len(keys)))
        for col, k in enumerate(keys):
            for j, sg in enumerate(sigs[k]):
                for c, x in sg.items():
                    m[index[(j, c)], col] = x
        return m

    m_pos = columns(pos)
    if zeros and coords:
        q, r_, _ = np.linalg.svd(columns(zeros), full_matrices=False)
        q = q[:, r_ > TOL * max(1.0, r_.max(initial=0.0))]
        m_pos = m_pos - q @ (q.T @ m_pos)  # what the zero parts' columns cannot cancel
    basis = _null_space(m_pos) if coords else np.eye(len(pos))
    if basis.shape[1] == 0:
        return []
    least = 1 if zeros else 2  # one part with parts of 0 beside it is a set too
    support = [i for i in range(len(pos)) if np.abs(basis[i]).max() > 1e-6]

    def found(keys):
        t = sum(values[k] for k in keys)
        return [tuple(sorted(list(keys) + zeros, key=repr))] if len(keys) >= least and small(t) else []

    if basis.shape[1] == 1:
        b = basis[support, 0]
        return found([pos[i] for i in support]) if np.allclose(b, b[0], atol=1e-6) else []
    out: list[tuple] = []
    tried = 0
    space = basis[support]  # v (on the support) is in the null space iff v = P v, P the projection
    proj = space @ space.T

    def visit(start: int, chosen: list, total: int, v: np.ndarray) -> bool:
        nonlocal tried
        for at in range(start, len(support)):
            k = pos[support[at]]
            t = total + values[k]
            if t > 10:
                break  # parts come in increasing value
            w = v.copy()
            w[at] = 1.0
            tried += 1
            if np.abs(w - proj @ w).max() < 1e-6:
                out.extend(found(chosen + [k]))
            if tried > SUBSETS or not visit(at + 1, chosen + [k], t, w):
                return False
        return True

    if not visit(0, [], 0, np.zeros(len(support))):
        log.warning("suppression: a group has more small hidden parts than are searched (%d sets); all of "
                    "them are taken as one set, to be protected together", SUBSETS)
        return [tuple(sorted([pos[i] for i in support] + zeros, key=repr))]
    return out


def still_determined(model: Model, hidden: set, leak: Leak) -> bool:
    """Whether `leak` still holds with `hidden` hidden (to choose a cell that resolves it)."""
    return all(model.system(f, hidden).determined(leak.keys) for f in leak.fields)


def recheck(model: Model, hidden: set, found: list[Leak]) -> list[Leak]:
    """The leaks of `found` that still hold now that more is hidden, with their scopes anew. Hiding
    more only ever makes fewer combinations determined (a derivation with one more unknown is no
    easier), and suppression hides only parts above 10 and totals after its first check, so new
    leaks are not expected: suppress() still runs one full check when these are gone."""
    systems: dict = {}
    out = []
    for lk in found:
        for f in lk.fields:
            if f not in systems:
                systems[f] = model.system(f, hidden)
        if all(systems[f].determined(lk.keys) for f in lk.fields):
            scope = frozenset().union(*(systems[f].scope(*lk.keys) for f in lk.fields))
            out.append(Leak(lk.fields, lk.keys, lk.value, lk.group, scope))
    return out


def determined_counts(cells, hidden: set) -> dict[tuple, dict[str, int]]:
    """{key: {field: count}} of the hidden (and unshown) cells whose counts the shown ones determine:
    a report gives those away as surely as the ones it prints, so the ledger records them too
    (a later report showing 23 where this one let a reader compute 20 would give away 3)."""
    model = Model(cells)
    unknown = hidden | model.unshown
    fields = sorted({f for c in cells if c.key in unknown for f in c.counts})
    out: dict = {}
    for f in fields:
        fs = model.system(f, hidden)
        for k in sorted(fs.unknown, key=repr):
            if fs.determined([k]):
                out.setdefault(k, {})[f] = int(fs.value[k])
    return out
