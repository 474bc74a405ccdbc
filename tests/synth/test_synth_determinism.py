"""Same arguments, same bytes; another seed, other data."""
from __future__ import annotations

from pathlib import Path

import pytest

from synth import generate_registry


def _snapshot(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", ["csv", "csv.gz", "parquet"])
def test_same_seed_same_bytes(tmp_path, fmt):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        generate_registry(out, "reg-1", 120, seed=3, months=3, file_format=fmt, bad_rows=0.05)
    sa, sb = _snapshot(a), _snapshot(b)
    assert len(sa) == 1 + 3 * 7
    assert sa == sb


def test_other_seed_other_data(tmp_path):
    generate_registry(tmp_path / "a", "reg-1", 60, seed=1, months=2)
    generate_registry(tmp_path / "b", "reg-1", 60, seed=2, months=2)
    sa, sb = _snapshot(tmp_path / "a"), _snapshot(tmp_path / "b")
    assert sa.keys() == sb.keys()
    assert all(sa[k] != sb[k] for k in sa if k.endswith(("assessments.csv", "sessions.csv")))
