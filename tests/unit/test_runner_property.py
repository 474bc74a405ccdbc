"""The runner validates distinct value combinations, not rows. Property: for any rows, the rows it
flags for each rule are exactly the rows Great Expectations flags when run over every row, with
either plan (per-column sets, or one merged set for a small table)."""
from __future__ import annotations

import great_expectations as gx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from expectations.runner import MERGE_BELOW_ROWS, _context, load_suite, validate_table
from transforms import stage
from transforms.workspace import open_workspace

DRUGS = st.sampled_from(["esketamine", "ketamine", "other", "", "KETAMINE", "lsd"])
ROUTES = st.sampled_from(["intranasal", "iv", "oral", "im", "", "nasal"])
NUM = st.sampled_from(["", "0", "0.05", "0.5", "1.5", "5", "28", "56", "84", "40", "-3", "abc", "120", "300", "2"])
INT = st.sampled_from(["", "0", "1", "2", "3", "40", "90", "125", "-5", "two", "1500"])
TS = st.sampled_from(["2025-01-10T09:00:00Z", "2025-01-10", "2024-11-01T10:00:00Z", "2025-03-01T00:00:00Z",
                      "10/01/2025", ""])
SETTING = st.sampled_from(["clinic", "home", "office", ""])

session_row = st.fixed_dictionaries({
    "session_id": st.sampled_from(["S1", "S2", "S3", "S4", ""]),
    "patient_id": st.sampled_from(["P1", "P2", "P9", ""]),
    "session_start": TS, "drug": DRUGS, "route": ROUTES, "dose_mg": NUM, "dose_mg_per_kg": NUM,
    "weight_kg": NUM, "infusion_minutes": INT, "devices": INT, "setting": SETTING, "monitoring_minutes": INT,
})

ONE_SESSION = [{"session_id": "S1", "patient_id": "P1", "session_start": "2025-01-10T09:00:00Z", "drug": "ketamine",
                "route": "iv", "dose_mg": "", "dose_mg_per_kg": "0.5", "weight_kg": "70", "infusion_minutes": "40",
                "devices": "", "setting": "clinic", "monitoring_minutes": "90"}]


def _setup(rows):
    ws = open_workspace()
    cols = list(rows[0]) if rows else []
    ws.execute("CREATE TEMP TABLE raw_sessions (_line BIGINT, " + ", ".join(f'"{c}" VARCHAR' for c in cols) + ")")
    ws.executemany(f"INSERT INTO raw_sessions VALUES ({', '.join('?' for _ in range(len(cols) + 1))})",
                   [[i + 2] + [r[c] or None for c in cols] for i, r in enumerate(rows)])
    ws.execute("CREATE TEMP TABLE pk_map AS SELECT * FROM (VALUES ('P1', 'k1'), ('P2', 'k2'), ('P9', 'k9')) t(patient_id, patient_key)")
    ws.execute("CREATE TEMP TABLE ctx_patients AS SELECT * FROM (VALUES ('k1', DATE '2025-01-05'), ('k2', DATE '2025-01-06')) t(patient_key, enrolled_on)")
    ws.execute("SET VARIABLE exported_at = '2025-01-31T23:00:00+00:00'")
    stage.stage_table(ws, "sessions")
    return ws


def _naive(ws, suite) -> set[tuple[int, str]]:
    frame = ws.execute("SELECT * FROM stg_sessions").arrow().read_all().to_pandas()
    _, batch_definition = _context()
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(
        gx.ExpectationSuite(name="naive", expectations=[e.copy() for e in suite.expectations]),
        result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_line"]},
    )
    out = set()
    for r in result.results:
        for row in r.result.get("unexpected_index_list") or []:
            out.add((int(row["_line"]), r.expectation_config.meta["rule"]))
    return out


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 3 GX runs each
@given(st.lists(session_row, min_size=1, max_size=25))
def test_combinations_flag_exactly_the_rows_gx_flags_row_by_row(rows):
    ws = _setup(rows)
    suite = load_suite("sessions")
    naive = _naive(ws, suite)
    # per-column sets (a large table's plan) and one merged set (a small table's: these 1-25 rows)
    verdicts = []
    for merge_below in (0, MERGE_BELOW_ROWS):
        out = validate_table(ws, "sessions", "stg_sessions", suite, merge_below=merge_below)
        ours = set(ws.execute("SELECT _line, rule FROM viol_sessions").fetchall())
        assert ours == naive, merge_below
        verdicts.append(sorted((r.rule, r.expectation_type, str(r.kwargs), r.success, r.rows_checked, r.rows_failed)
                               for r in out.results))
    assert verdicts[0] == verdicts[1]  # ops.validation_results records the same either way


def test_configuration_cache_lives_only_inside_the_runners_validation():
    """The runner builds each expectation's configuration once while it validates (runner.py says
    why); outside that, GX's property is as GX wrote it: a new configuration on every read, so a
    change to an expectation is seen."""
    from expectations import runner

    ws = _setup(ONE_SESSION)
    suite = load_suite("sessions")
    validate_table(ws, "sessions", "stg_sessions", suite)
    assert runner._CONFIG_CACHE is None
    e = suite.expectations[0]
    assert e.configuration is not e.configuration
    before = e.configuration.meta
    e.meta = {**(e.meta or {}), "note": "changed"}
    assert e.configuration.meta == {**(before or {}), "note": "changed"}


def test_the_configuration_property_is_wrapped_once_per_process():
    """Found when the suite ran more validations in one process: every validate_table wrapped the
    wrapper again, so each configuration read went one level deeper per table validated, until a
    RecursionError (a warm `outcomes serve` worker would have hit it after ~150 ingests)."""
    from great_expectations.expectations.expectation import Expectation

    from expectations import runner

    runner._cache_configurations()
    wrapped = Expectation.configuration
    ws = _setup(ONE_SESSION)
    for _ in range(3):
        validate_table(ws, "sessions", "stg_sessions", load_suite("sessions"))
    assert Expectation.configuration is wrapped
