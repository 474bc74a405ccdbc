"""Run a table's Great Expectations suite over a DuckDB staging table, row-exactly but fast.

Great Expectations has no DuckDB engine (shared/docs/engineering-notes.md), and its pandas engine
costs about a second per million rows per expectation. But a column-map or column-pair
expectation's verdict on a row depends only on the values of the columns it reads. So each group
of expectations that reads the same columns is run over the *distinct combinations* of those
columns (with their multiplicity), and DuckDB maps the failing combinations back to rows. The
verdicts are exactly those of running the suite over every row; the work scales with the number
of distinct values, not rows. Whole-table facts (duplicates, orphans) are computed in the staging
SQL into `_` columns that the suites check like any other column.
"""
from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

SUITE_DIR = Path(__file__).parent / "suites"
SEVERITIES = ("error", "warning", "alert")
_CTX_LOCK = threading.Lock()
_CTX = None


@dataclass
class RuleResult:
    table: str
    rule: str
    expectation_type: str
    kwargs: dict
    kahn: str
    severity: str
    description: str
    success: bool
    rows_checked: int
    rows_failed: int


@dataclass
class TableValidation:
    table: str
    results: list[RuleResult] = field(default_factory=list)
    violations_table: str = ""  # temp table (_line, rule, severity)


def load_suite(table: str, directory: Path = SUITE_DIR):
    import great_expectations as gx

    data = json.loads((directory / f"{table}.json").read_text())
    data.pop("meta", None)
    return gx.ExpectationSuite(**data)


def _context():
    """One ephemeral GX context per process: no gx/ folder shared between processes."""
    global _CTX
    with _CTX_LOCK:
        if _CTX is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx = gx.get_context(mode="ephemeral")
            ctx.enable_analytics(False)
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            asset = ctx.data_sources.add_pandas("staging").add_dataframe_asset("combinations")
            _CTX = (ctx, asset.add_batch_definition_whole_dataframe("whole"))
        return _CTX


# Great Expectations 1.x rebuilds an expectation's configuration (a pydantic .dict() and a new
# ExpectationConfiguration) on every read of Expectation.configuration, and reads it ~100 times per
# expectation while validating: ~0.25 s of a small export's ~1.2 s validation. While the runner
# validates (under _CTX_LOCK, on copies of the suite's expectations that nothing changes meanwhile)
# each copy's configuration is built once. Outside those calls the property is GX's own.
_CONFIG_CACHE: dict | None = None


def _cache_configurations() -> None:
    from great_expectations.expectations.expectation import Expectation

    original = Expectation.configuration
    if getattr(original.fget, "_outcomes_cached", False):  # once per process: wrapping the wrapper
        return  # at every call nested them, one level per table validated, until a RecursionError
    build = original.fget

    def configuration(self):
        cache = _CONFIG_CACHE
        if cache is None:
            return build(self)
        hit = cache.get(id(self))
        if hit is None or hit[0] is not self:
            hit = cache[id(self)] = (self, build(self))
        return hit[1]

    prop = property(configuration, doc=original.__doc__)
    prop.fget._outcomes_cached = True
    Expectation.configuration = prop


NULL_ONLY = {"expect_column_values_to_not_be_null", "expect_column_values_to_be_null"}


def columns_read(expectation, available: set[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The staging columns an expectation's verdict depends on, split into columns whose values
    matter and columns of which only null-or-not matters (not-null / null expectations)."""
    cfg = expectation.configuration.kwargs
    cols = [cfg[k] for k in ("column", "column_A", "column_B") if k in cfg]
    cols += list(cfg.get("column_list") or [])
    null_only: list[str] = []
    if expectation.expectation_type in NULL_ONLY:
        null_only, cols = cols, []
    cols += _condition_columns(_condition(cfg.get("row_condition")))
    missing = [c for c in cols + null_only if c not in available]
    if missing:
        raise KeyError(f"expectation {expectation.meta.get('rule')} reads unknown columns {missing}")
    values = tuple(sorted(set(cols)))
    return values, tuple(sorted(set(null_only) - set(values)))


def _condition(cond):
    """A row condition as GX's Condition object (a suite file holds it as a dict)."""
    if not cond:
        return None
    from great_expectations.expectations.row_conditions import (
        Condition, PassThroughCondition, deserialize_row_condition)

    if isinstance(cond, dict):
        cond = deserialize_row_condition(cond)
    if isinstance(cond, PassThroughCondition) or not isinstance(cond, Condition):
        raise ValueError(f"unsupported row condition {cond!r}: suites use GX Condition objects")
    return cond


def _condition_columns(cond) -> list[str]:
    """The columns a condition reads: they are part of what the expectation's verdict depends on."""
    if cond is None:
        return []
    if hasattr(cond, "conditions"):  # AND / OR
        return [c for part in cond.conditions for c in _condition_columns(part)]
    return [cond.column.name]


_ENGINE = None


def _condition_text(cond) -> str | None:
    """The condition as the pandas query GX applies it with (rows checked, the results' record)."""
    global _ENGINE
    cond = _condition(cond)
    if cond is None:
        return None
    if _ENGINE is None:
        from great_expectations.execution_engine import PandasExecutionEngine

        _ENGINE = PandasExecutionEngine()
    return _ENGINE.condition_to_filter_clause(cond)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def plan_sets(suite, available: set[str]) -> list[tuple[tuple[str, ...], tuple[str, ...], list]]:
    """Group a suite's expectations by what they read: each group becomes one set of combinations."""
    groups: dict = defaultdict(list)
    for exp in suite.expectations:
        groups[columns_read(exp, available)].append(exp)
    return [(values, nulls, exps) for (values, nulls), exps in groups.items()]


# Up to this many staging rows, one set reads every column the suite reads: GX's cost is then
# mostly per expectation and per validate call, not per row, and one call per table instead of ~20
# halved a small table's validation (0.42-0.9x at 5 patients). Every table up to 4,400 rows took
# at most 1.05x as long merged; 41,000 vitals took 2x (`python bench/validate_sets.py`,
# docs/benchmarks.md), so larger tables keep the per-column sets.
MERGE_BELOW_ROWS = 5000


def merge_sets(sets: list) -> list:
    """All groups as one set: its columns are every group's, so each expectation still sees every
    column it reads; a column only some expectation reads as null-or-not stays null-only."""
    values = sorted({c for v, _, _ in sets for c in v})
    nulls = sorted({c for _, n, _ in sets for c in n} - set(values))
    return [(tuple(values), tuple(nulls), [e for _, _, exps in sets for e in exps])] if sets else []


def validate_table(con: duckdb.DuckDBPyConnection, table: str, staging: str, suite=None,
                   merge_below: int = MERGE_BELOW_ROWS) -> TableValidation:
    """Validate `staging` with the table's suite; failing rows land in temp table viol_<table>.

    Every group of expectations reading the same columns gets its distinct combinations (set k),
    and GX validates each set's frame (those columns only) with that group's expectations. Why not
    one stacked frame with `_set == k` row conditions: GX's pandas engine applies a row condition
    with DataFrame.query, which costs time per column of the frame, for every metric. Why two
    passes: most expectations pass, and a pass/fail verdict (BOOLEAN_ONLY) costs GX about half of
    a verdict with the failing combinations (COMPLETE), which only the failed ones then get.
    Together these made a small export's validation ~3x faster. A small table (at most
    `merge_below` rows) is one set: see MERGE_BELOW_ROWS. Within a set, the expectations sharing a
    row condition run on the combinations it selects, taken once with GX's own pandas query for it,
    instead of GX querying the frame again for each of their metrics.
    """
    import great_expectations as gx

    suite = suite or load_suite(table)
    available = {r[0] for r in con.execute(f"DESCRIBE {staging}").fetchall()}
    sets = plan_sets(suite, available)
    if con.execute(f"SELECT count(*) FROM {staging}").fetchone()[0] <= merge_below:
        sets = merge_sets(sets)
    out = TableValidation(table, violations_table=f"viol_{table}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out.violations_table} (_line BIGINT, rule VARCHAR, severity VARCHAR)")
    combos = f"combo_{table}"
    selects = []
    for k, (values, nulls, _) in enumerate(sets):
        cols = [f"{_quote(c)}" for c in values] + [f"any_value({_quote(c)}) AS {_quote(c)}" for c in nulls]
        keys = [_quote(c) for c in values] + [f"({_quote(c)} IS NULL)" for c in nulls]
        group = f"GROUP BY {', '.join(keys)}" if keys else ""
        selects.append(f"SELECT {k} AS _set, {', '.join(cols + ['count(*) AS _n'])} FROM {staging} {group}")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {combos} AS SELECT (row_number() OVER () - 1)::BIGINT AS _combo, * FROM ("
        + " UNION ALL BY NAME ".join(f"({q})" for q in selects) + ")"
    )
    _, batch_definition = _context()

    _cache_configurations()

    from great_expectations.validator.v1_validator import Validator

    def run(validator: Validator, exps: list, name: str, result_format: dict) -> list:
        """What Batch.validate does, but on one Validator per frame: Batch.validate builds the batch
        again (hashing the whole frame) and a new validator for each call, ~15 % of GX's time on a
        small export, and the second pass of a frame (the failed expectations' details) reuses
        the first pass's validator."""
        global _CONFIG_CACHE
        with _CTX_LOCK:  # a GX context is not safe to validate from two threads at once
            validator.result_format = result_format
            suite_copy = gx.ExpectationSuite(name=name, expectations=[e.copy() for e in exps])
            _CONFIG_CACHE = {}
            try:
                result = validator.validate_expectation_suite(suite_copy)
            finally:
                _CONFIG_CACHE = None
        for r in result.results:
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(f"expectation {(r.expectation_config.meta or {}).get('rule')} on {table} "
                                   f"could not run: {r.exception_info.get('exception_message')}")
        return result.results

    for k, (values, nulls, exps) in enumerate(sets):
        names = ", ".join(_quote(c) for c in ("_combo", *values, *nulls, "_n"))
        frame: pd.DataFrame = con.execute(f"SELECT {names} FROM {combos} WHERE _set = ?", [k]).arrow().read_all().to_pandas()
        done: list[tuple[int, RuleResult]] = []
        for g, (cond, members) in enumerate(_by_condition(exps).items()):
            # the rows a condition selects, taken once for its expectations, which then run without
            # it: GX would apply it (DataFrame.query, whose cost grows with the frame's columns)
            # again for every metric of every one of them, ~40 % of a small table's validation
            rows = frame.query(cond) if cond else frame
            plain = [exps[i].copy(update={"row_condition": None, "condition_parser": None}) if cond else exps[i]
                     for i in members]
            order = {_identity(e.configuration): i for i, e in zip(members, plain)}
            if len(order) != len(members):
                raise ValueError(f"{table}: two expectations under one row condition are the same expectation")
            validator = Validator(batch_definition=batch_definition, batch_parameters={"dataframe": rows})
            verdicts = run(validator, plain, f"{table}-{k}-{g}", {"result_format": "BOOLEAN_ONLY"})
            failed = {_identity(r.expectation_config) for r in verdicts if not r.success}
            if failed:
                detail = run(validator, [e for e in plain if _identity(e.configuration) in failed], f"{table}-{k}-{g}-failed",
                             {"result_format": "COMPLETE", "unexpected_index_column_names": ["_combo"]})
                if len(detail) != len(failed):  # never drop a failed verdict for want of its details
                    raise RuntimeError(f"{table}: {len(failed)} failed expectation(s), {len(detail)} detailed")
                verdicts = [r for r in verdicts if r.success] + detail
            for r in verdicts:
                done.append((order[_identity(r.expectation_config)],
                             _collect(con, table, staging, combos, out.violations_table, rows, values, nulls, r, cond)))
        out.results.extend(r for _, r in sorted(done, key=lambda x: x[0]))
    con.execute(f"DROP TABLE {combos}")
    return out


def _by_condition(exps: list) -> dict[str | None, list[int]]:
    """The expectations' positions grouped by their row condition (as GX's pandas query)."""
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i, e in enumerate(exps):
        groups[_condition_text(e.configuration.kwargs.get("row_condition"))].append(i)
    return groups


def _identity(config) -> str:
    """An expectation's identity within a suite (a rule may have several expectations)."""
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    return json.dumps([config.type, (config.meta or {}).get("rule"), kwargs], sort_keys=True, default=str)


def _collect(con, table: str, staging: str, combos: str, violations: str, frame: pd.DataFrame,
             values: tuple[str, ...], nulls: tuple[str, ...], r, cond: str | None) -> RuleResult:
    """One expectation's verdict over `frame` (the combinations its row condition `cond` selects):
    its failing combinations' rows into the violations table."""
    meta = r.expectation_config.meta or {}
    failing = [] if r.success else [row["_combo"] for row in (r.result.get("unexpected_index_list") or [])]
    kwargs = r.expectation_config.kwargs
    rows_checked = int(frame["_n"].sum())
    rows_failed = 0
    if failing:
        con.register("_failing", pd.DataFrame({"_combo": pd.array(failing, dtype="int64")}))
        on = [f"s.{_quote(c)} IS NOT DISTINCT FROM c.{_quote(c)}" for c in values]
        on += [f"(s.{_quote(c)} IS NULL) = (c.{_quote(c)} IS NULL)" for c in nulls]
        con.execute(
            f"INSERT INTO {violations} SELECT s._line, ?, ? FROM {staging} s "
            f"JOIN (SELECT c.* FROM {combos} c SEMI JOIN _failing f ON f._combo = c._combo) c "
            f"ON {' AND '.join(on) if on else 'true'}",
            [meta["rule"], meta["severity"]],
        )
        con.unregister("_failing")
        rows_failed = int(frame.loc[frame["_combo"].isin(failing), "_n"].sum())
    original = {k2: v for k2, v in kwargs.items() if k2 != "batch_id"}  # GX ran it without its condition
    if cond:
        original["row_condition"] = cond
    return RuleResult(
        table=table,
        rule=meta["rule"],
        expectation_type=r.expectation_config.type,
        kwargs=json.loads(json.dumps(original, default=str)),
        kahn=meta.get("kahn", ""),
        severity=meta["severity"],
        description=meta.get("description", ""),
        success=bool(r.success),
        rows_checked=rows_checked,
        rows_failed=rows_failed,
    )
