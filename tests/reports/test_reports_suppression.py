from hypothesis import given, settings
from hypothesis import strategies as st

from reports.suppression import Cell, is_small, suppress


def test_primary_and_complementary():
    cells = [Cell(("a",), {"n": 5}, [("g", "part")]), Cell(("b",), {"n": 40}, [("g", "part")]),
             Cell(("c",), {"n": 20}, [("g", "part")]), Cell(("t",), {"n": 65}, [("g", "total")])]
    hidden = suppress(cells)
    assert ("a",) in hidden and ("c",) in hidden  # smallest other part above 10
    assert ("b",) not in hidden and ("t",) not in hidden


def test_total_hidden_when_no_part_can_complement():
    cells = [Cell(("a",), {"n": 5}, [("g", "part")]), Cell(("b",), {"n": 0}, [("g", "part")]),
             Cell(("t",), {"n": 5}, [("g", "total")])]
    assert suppress(cells) == {("a",), ("t",)}


def test_zero_is_shown():
    assert suppress([Cell(("a",), {"n": 0})]) == set()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), st.lists(st.integers(0, 40), min_size=1, max_size=6))
def test_no_small_count_derivable(a, b):
    """Two overlapping groups (rows and columns of a table with margins): no shown cell is 1-10 and no
    group has exactly one hidden cell holding a non-zero count."""
    cells = []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            cells.append(Cell((i, j), {"n": x * y % 37}, [(f"r{i}", "part"), (f"c{j}", "part")]))
    for i in range(len(a)):
        cells.append(Cell((i, "T"), {"n": sum(c.counts["n"] for c in cells if c.key[0] == i and c.key[1] != "T")},
                          [(f"r{i}", "total")]))
    for j in range(len(b)):
        cells.append(Cell(("T", j), {"n": sum(c.counts["n"] for c in cells if c.key[1] == j and c.key[0] != "T")},
                          [(f"c{j}", "total")]))
    hidden = suppress(cells)
    for c in cells:
        assert c.key in hidden or not is_small(c.counts["n"])
    groups = {}
    for c in cells:
        for g, _ in c.groups:
            groups.setdefault(g, []).append(c)
    for g, members in groups.items():
        hid = [c for c in members if c.key in hidden]
        assert len(hid) != 1 or hid[0].counts["n"] == 0, g
