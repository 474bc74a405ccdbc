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
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

SUITE_DIR = Path(__file__).parent / "suites"
SEVERITIES = ("error", "warning", "alert")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
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
            ctx.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
            asset = ctx.data_sources.add_pandas("staging").add_dataframe_asset("combinations")
            _CTX = (ctx, asset.add_batch_definition_whole_dataframe("whole"))
        return _CTX


def columns_read(expectation, available: set[str]) -> tuple[str, ...]:
    """The staging columns an expectation's verdict depends on (its columns and its row condition)."""
    cfg = expectation.configuration.kwargs
    cols = [cfg[k] for k in ("column", "column_A", "column_B") if k in cfg]
    cols += list(cfg.get("column_list") or [])
    cond = cfg.get("row_condition")
    if cond:
        text = cond if isinstance(cond, str) else json.dumps(cond, default=str)
        cols += [t for t in _TOKEN.findall(text) if t in available]
    missing = [c for c in cols if c not in available]
    if missing:
        raise KeyError(f"expectation {expectation.meta.get('rule')} reads unknown columns {missing}")
    return tuple(sorted(set(cols)))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def validate_table(con: duckdb.DuckDBPyConnection, table: str, staging: str, suite=None) -> TableValidation:
    """Validate `staging` with the table's suite; failing rows land in temp table viol_<table>."""
    import great_expectations as gx

    suite = suite or load_suite(table)
    available = {r[0] for r in con.execute(f"DESCRIBE {staging}").fetchall()}
    groups: dict[tuple[str, ...], list] = defaultdict(list)
    for exp in suite.expectations:
        groups[columns_read(exp, available)].append(exp)

    out = TableValidation(table, violations_table=f"viol_{table}")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {out.violations_table} (_line BIGINT, rule VARCHAR, severity VARCHAR)")
    _, batch_definition = _context()
    for gi, (cols, exps) in enumerate(groups.items()):
        combos = f"combo_{table}_{gi}"
        col_sql = ", ".join(_quote(c) for c in cols)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {combos} AS "
            f"SELECT (row_number() OVER () - 1)::BIGINT AS _combo, {col_sql}, count(*) AS _n "
            f"FROM {staging} GROUP BY ALL"
        )
        frame: pd.DataFrame = con.execute(f"SELECT * FROM {combos}").arrow().read_all().to_pandas()
        sub = gx.ExpectationSuite(name=f"{table}[{','.join(cols)}]", expectations=[e.copy() for e in exps])
        with _CTX_LOCK:  # a GX context is not safe to validate from two threads at once
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(
                sub, result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_combo"]}
            )
        for r in result.results:
            meta = r.expectation_config.meta or {}
            if r.exception_info and r.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"expectation {meta.get('rule')} on {table} could not run: {r.exception_info.get('exception_message')}"
                )
            failing = [row["_combo"] for row in (r.result.get("unexpected_index_list") or [])]
            kwargs = r.expectation_config.kwargs
            cond = kwargs.get("row_condition")
            checked = frame
            if cond:
                text = cond if isinstance(cond, str) else getattr(cond, "pass_through_filter", None) or str(cond)
                try:
                    checked = frame.query(text, engine="python")
                except Exception:  # the count is informative only; GX already applied the condition
                    checked = frame
            rows_failed = 0
            if failing:
                ids = pd.DataFrame({"_combo": pd.array(failing, dtype="int64")})
                con.register("_failing", ids)
                on = " AND ".join(f"s.{_quote(c)} IS NOT DISTINCT FROM c.{_quote(c)}" for c in cols)
                con.execute(
                    f"INSERT INTO {out.violations_table} SELECT s._line, ?, ? FROM {staging} s "
                    f"JOIN (SELECT c.* FROM {combos} c SEMI JOIN _failing f ON f._combo = c._combo) c ON {on}",
                    [meta["rule"], meta["severity"]],
                )
                con.unregister("_failing")
                rows_failed = int(frame.loc[frame["_combo"].isin(failing), "_n"].sum())
            out.results.append(
                RuleResult(
                    table=table,
                    rule=meta["rule"],
                    expectation_type=r.expectation_config.type,
                    kwargs=json.loads(json.dumps({k: v for k, v in kwargs.items() if k != "batch_id"}, default=str)),
                    kahn=meta.get("kahn", ""),
                    severity=meta["severity"],
                    description=meta.get("description", ""),
                    success=bool(r.success),
                    rows_checked=int(checked["_n"].sum()),
                    rows_failed=rows_failed,
                )
            )
        con.execute(f"DROP TABLE {combos}")
    return out
