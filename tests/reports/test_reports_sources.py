"""sources.sql_literal: the report's values go into SET VARIABLE as literals (not bound
parameters, see its docstring), so quoting must be exact for any registry id."""
from __future__ import annotations

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports.sources import sql_literal


@given(st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62), st.text()))
def test_literal_round_trips(value):
    if isinstance(value, str) and "\x00" in value:
        return  # DuckDB strings cannot hold NUL
    con = duckdb.connect()
    assert con.execute(f"SELECT {sql_literal(value)}").fetchone()[0] == value


@pytest.mark.parametrize("value", [True, 1.5, b"x", ["a"]])
def test_other_types_refused(value):
    with pytest.raises(TypeError):
        sql_literal(value)
