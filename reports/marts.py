"""Build the `marts` schema: run the SQL models of warehouse/sql/marts in order, then add the
intervals and survival tables that SQL should not hand-compute (reports.stats).

Two places a build can land: the warehouse file itself (`rebuild_marts`, after each load or on
demand; the file is held read-write only for the rebuild) or an in-memory database with the
warehouse attached read-only (`build_in_memory`, what a report uses, so that a report for a past
month or an --as-of load never changes the warehouse).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from outcomes import scratch
from reports.sources import create_sources, sql_literal

# numpy, pandas and reports.stats (scipy, statsmodels, lifelines: ~1 s of imports) are imported
# where used, not here: a report imports them in a background thread while the SQL models run
# (reports.report), and the SQL needs none of them.

SQL_DIR = Path(__file__).resolve().parent.parent / "warehouse" / "sql" / "marts"
# Order matters: seeds, then intermediate (TEMP) tables, then marts, each after what it reads.
# The efficacy marts come right after int_efficacy and ae_rates right after int_ae so that their
# statistics (python, one core) run in a thread while the next models run (DuckDB releases the GIL
# while it executes): see build(). int_flags, the largest, comes after the AE models so that their
# intermediates are freed before it runs (drop_after).
MODELS = [
    "seed_macros", "seed_label_groups", "int_sessions", "int_patients", "int_efficacy",
    "marts_response_rates", "marts_time_to_response", "int_ae", "marts_ae_rates", "marts_sae_listing",
    "int_flags", "marts_exposure", "marts_session_safety", "marts_long_term", "marts_data_quality",
]
REFERENCE_ROUTE = ("esketamine", "intranasal")


# DuckDB resources for a build. Without them DuckDB takes 80 % of RAM and every core, and a report
# at 10M assessment rows peaked at ~15 GB RSS; with a limit it spills hash tables and sorts to
# temp_directory instead. Override with OUTCOMES_DUCKDB_MEMORY_LIMIT / OUTCOMES_DUCKDB_THREADS.
def _memory_limit() -> str:
    from outcomes.config import env_memory

    return env_memory("OUTCOMES_DUCKDB_MEMORY_LIMIT", "1GB")


def _threads() -> int:
    from outcomes.config import env_count

    return env_count("OUTCOMES_DUCKDB_THREADS", 0) or min(os.cpu_count() or 2, 4)


def drop_after() -> dict[str, list[str]]:
    """{model: the TEMP tables no model after it reads}, from the models' SQL text. Why: the build
    runs under a 1 GB memory limit, and at 10M assessment rows the efficacy intermediates
    (int_scores, int_week_scores...) held ~0.5 GB when int_flags, the largest model, started and
    spilled; freed as soon as their last reader has run, they leave it that memory."""
    import re

    texts = {m: (SQL_DIR / f"{m}.sql").read_text() for m in MODELS}
    made = {t: m for m in MODELS for t in re.findall(r"CREATE OR REPLACE TEMP TABLE (\w+)", texts[m], re.I)}
    out: dict[str, list[str]] = {}
    for table, maker in made.items():
        last = max((i for i, m in enumerate(MODELS) if re.search(rf"\b{table}\b", texts[m])),
                   default=MODELS.index(maker))
        out.setdefault(MODELS[last], []).append(table)
    return out


def configure(con: duckdb.DuckDBPyConnection, temp_directory: str | Path | None = None) -> None:
    """Bound a build connection's memory and threads; spill to temp_directory."""
    con.execute(f"SET memory_limit = {sql_literal(_memory_limit())}")
    con.execute(f"SET threads = {_threads()}")
    con.execute("SET preserve_insertion_order = false")
    if temp_directory is not None:
        con.execute(f"SET temp_directory = {sql_literal(str(temp_directory))}")  # no bound parameter: sql_literal


def code_version() -> str:
    """`git describe` of the checkout when there is one, else the installed package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=SQL_DIR,
                             capture_output=True, text=True, timeout=5)
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ketamine-outcomes")
    except PackageNotFoundError:
        return "unknown"


def build(con: duckdb.DuckDBPyConnection, catalog: str = "", as_of_load: int | None = None,
          cutoff: datetime | None = None, registry: str | None = None, report_month: str | None = None) -> dict:
    """Run every model on `con` (marts land in its default catalog); returns timings and counts.

    report_month ('YYYY-MM'): build only what a report for that month shows: the month periods of
    marts.ae_rates and marts.session_safety (and its slices) are that month's only, marts.exposure
    has the other months only by group, registry and total (cumulative is unchanged; rows kept are
    identical to a full build's). None (a rebuild): every month."""
    t0 = time.perf_counter()
    con.execute("SET TimeZone = 'UTC'")
    create_sources(con, catalog, as_of_load, cutoff, registry)
    # the ingest's identifier pattern (transforms/sql/macros.sql), for terms the marts would print
    from transforms.redaction import identifier_pattern

    con.execute(f"CREATE OR REPLACE TEMP MACRO identifier_re() AS {sql_literal(identifier_pattern().pattern)}")
    con.execute("CREATE OR REPLACE TEMP MACRO has_identifier(t) AS coalesce(regexp_matches(t, identifier_re()), false)")
    con.execute(f"SET VARIABLE report_month = {sql_literal(report_month)}::VARCHAR")
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    timings = {}
    # The statistics (reports.stats, pandas) of each mart run in one worker thread as soon as the
    # mart exists, overlapping the SQL models still to run; only this thread touches `con` (the
    # worker gets DataFrames), so a rebuild stays one transaction. The tables are replaced at the end.
    pool = ThreadPoolExecutor(1, thread_name_prefix="marts-stats")
    jobs = []
    done_with = drop_after()
    try:
        for name in MODELS:
            t = time.perf_counter()
            con.execute((SQL_DIR / f"{name}.sql").read_text())
            for table in done_with.get(name, []):
                con.execute(f"DROP TABLE IF EXISTS temp.{table}")
            timings[name] = round(time.perf_counter() - t, 3)
            if name == "marts_time_to_response":
                efficacy = {n: con.execute(f"SELECT * FROM marts.{n}").df()
                            for n in ("response_rates", "regimen_response", "time_to_response")}
                jobs.append(pool.submit(_timed, _efficacy_stats, efficacy))
            elif name == "marts_ae_rates":
                ae = con.execute("SELECT * FROM marts.ae_rates").df()
                jobs.append(pool.submit(_timed, _ae_and_comparisons, ae, jobs[0]))
        t = time.perf_counter()
        out = _safety_stats({n: con.execute(f"SELECT * FROM marts.{n}").df() for n in SAFETY_MARTS})
        background = 0.0
        for job in jobs:
            tables, seconds = job.result()
            out.update(tables)
            background += seconds
        for n, df in out.items():
            if not n.startswith("_"):
                _replace(con, n, df)
        timings["stats"] = round(time.perf_counter() - t, 3)  # after the last model: what the overlap left
        timings["stats_in_background"] = round(background, 3)
    finally:
        pool.shutdown(wait=True)
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary AND "
                               "(table_name LIKE 'int\\_%' ESCAPE '\\' OR table_name LIKE 'seed\\_%' ESCAPE '\\')").fetchall():
        con.execute(f"DROP TABLE IF EXISTS temp.{name}")  # the intermediates are not part of the marts
    # provenance: the warehouse state the figures come from (its last load, or the as-of load),
    # whatever the report's data cut-off; loads happen in wall-clock time, data months do not
    pre = f"{catalog}." if catalog else ""
    last = con.execute(f"SELECT max(load_id), max(finished_at) FROM {pre}ops.loads WHERE status = 'loaded' "
                       f"AND (? IS NULL OR load_id <= ?)", [as_of_load, as_of_load]).fetchone()
    info = {
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "as_of_load": as_of_load, "last_load_id": last[0],
        "last_load_at": last[1].isoformat() if last[1] else None,
        "cutoff": cutoff.isoformat() if cutoff else None, "registry": registry,
        "code_version": code_version(),
    }
    con.execute("CREATE OR REPLACE TABLE marts.build_info AS SELECT * FROM (SELECT ?::TIMESTAMPTZ AS built_at, "
                "?::BIGINT AS as_of_load, ?::BIGINT AS last_load_id, ?::TIMESTAMPTZ AS last_load_at, "
                "?::TIMESTAMPTZ AS cutoff, ?::VARCHAR AS registry, ?::VARCHAR AS code_version)",
                list(info.values()))
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' AND database_name = current_database() "
        "ORDER BY 1").fetchall()]
    info["tables"] = {t: con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0] for t in tables}
    timings["total"] = round(time.perf_counter() - t0, 3)
    info["timings"] = timings
    return info


def rebuild_marts(warehouse_path: str | Path | None = None, as_of_load: int | None = None) -> dict:
    """Rebuild the `marts` schema inside the warehouse, from core.* or as of a load.

    Holds the file read-write only for this rebuild, in one transaction, so readers see the old
    marts or the new ones, never half.
    """
    from warehouse.connect import MissingWarehouse, require_warehouse, retry_locked
    from warehouse.connect import warehouse_path as resolve

    p = resolve(warehouse_path)
    if not p.exists():
        raise MissingWarehouse(p)
    con = retry_locked(lambda: duckdb.connect(str(p)), path=p)
    try:
        require_warehouse(con, p)
        configure(con)  # spills to <warehouse>.tmp, DuckDB's default for a file database
        con.execute("BEGIN")
        try:
            info = build(con, "", as_of_load=as_of_load)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    finally:
        con.close()
    info["warehouse"] = str(p)
    return info


def build_in_memory(warehouse_path: str | Path | None = None, as_of_load: int | None = None,
                    cutoff: datetime | None = None, registry: str | None = None,
                    temp_directory: str | Path | None = None,
                    report_month: str | None = None, ledger: bool = False) -> tuple[duckdb.DuckDBPyConnection, dict]:
    """Marts in a private in-memory database; the warehouse is attached read-only (the models read
    it through views, nothing is copied), then detached. Spills go to temp_directory (default: a
    fresh directory removed with the connection). ledger: also copy the publication ledger (what a report of
    this registry is compared with, whatever as_of_load says: reports.ledger.copy_published) while
    the warehouse is attached."""
    from warehouse.connect import MissingWarehouse, attach, detach, require_warehouse
    from warehouse.connect import warehouse_path as resolve

    p = resolve(warehouse_path)
    if not p.exists():
        raise MissingWarehouse(p)
    con = duckdb.connect()
    if temp_directory is None:
        # removed with the connection: at exit only, a running service kept one per report
        temp_directory = scratch.make("outcomes-marts-")  # and those of killed reports go
        weakref.finalize(con, shutil.rmtree, temp_directory, True)
    configure(con, temp_directory)
    attach(con, p, alias="wh", read_only=True)
    try:
        require_warehouse(con, p, "wh")
        info = build(con, "wh", as_of_load=as_of_load, cutoff=cutoff, registry=registry, report_month=report_month)
        if ledger:
            from reports.ledger import copy_published

            copy_published(con, "wh", registry or "all")
    finally:
        for v in ("src_patients", "src_sessions", "src_vitals", "src_assessments", "src_adverse_events",
                  "src_labs", "src_loads", "src_data_ends", "src_quarantine", "src_alerts"):
            con.execute(f"DROP VIEW IF EXISTS {v}")
        detach(con)
    return con, info


# ---------------------------------------------------------------------------------------------
# Statistics added after SQL


def _replace(con, name: str, df) -> None:
    con.register("_df", df)
    con.execute(f"CREATE OR REPLACE TABLE marts.{name} AS SELECT * FROM _df")
    con.unregister("_df")


SAFETY_MARTS = ("session_safety", "bp_excursions", "peri_dose", "rems_monitoring", "suicidality")


def _timed(f, *args):
    t = time.perf_counter()
    return f(*args), time.perf_counter() - t


def _efficacy_stats(marts: dict) -> dict:
    """Intervals of response_rates and regimen_response; Kaplan-Meier tables from time_to_response."""
    import numpy as np

    from reports import stats

    rr, rg = marts["response_rates"], marts["regimen_response"]
    rr["response_rate"] = _div(rr["responders"], rr["patients_evaluable"])
    rr["response_ci_low"], rr["response_ci_high"] = stats.proportion_ci(rr["responders"], rr["patients_evaluable"])
    rr["remission_rate"] = _div(rr["remitters"], rr["patients_evaluable"])
    rr["remission_ci_low"], rr["remission_ci_high"] = stats.proportion_ci(rr["remitters"], rr["patients_evaluable"])
    alt = rr["remitters_alt"].fillna(0)
    rr["remission_alt_rate"] = np.where(rr["remitters_alt"].notna(), _div(alt, rr["patients_evaluable"]), np.nan)
    lo, hi = stats.proportion_ci(alt, rr["patients_evaluable"])
    rr["remission_alt_ci_low"] = np.where(rr["remitters_alt"].notna(), lo, np.nan)
    rr["remission_alt_ci_high"] = np.where(rr["remitters_alt"].notna(), hi, np.nan)
    rr["mean_score_ci_low"], rr["mean_score_ci_high"] = stats.mean_ci(rr["mean_score"], rr["sd_score"], rr["patients_evaluable"])
    # sensitivity: followed patients without a responding week-w score count as non-responders
    rr["response_followed_rate"] = _div(rr["responders_followed"], rr["patients_followed"])
    rr["response_followed_ci_low"], rr["response_followed_ci_high"] = stats.proportion_ci(rr["responders_followed"],
                                                                                         rr["patients_followed"])
    rg["response_rate"] = _div(rg["responders"], rg["patients_evaluable"])
    rg["response_ci_low"], rg["response_ci_high"] = stats.proportion_ci(rg["responders"], rg["patients_evaluable"])
    out = {"response_rates": rr.sort_values(["registry_id", "drug", "route", "instrument", "week"]),
           "regimen_response": rg, "_rr": rr}  # _rr (unsorted, for the comparisons) is not a table
    out.update(_survival(marts["time_to_response"]))
    return out


def _ae_and_comparisons(ae, efficacy_job) -> dict:
    """ae_rates intervals, long_term (its signal rows), and the comparisons, which also need the
    response rates of the efficacy job (done by then: one worker runs the jobs in order)."""
    _ae_stats(ae)
    efficacy, _ = efficacy_job.result()
    return {"ae_rates": ae, "long_term": ae[ae["level"] == "signal"].copy(),
            "comparisons": _comparisons(efficacy["_rr"], efficacy["regimen_response"], ae)}


def _safety_stats(marts: dict) -> dict:
    from reports import stats

    for df in marts.values():
        df["unit_rate"] = _div(df["units_flagged"], df["units_evaluable"])
        df["unit_ci_low"], df["unit_ci_high"] = stats.proportion_ci(df["units_flagged"], df["units_evaluable"])
        df["patient_rate"] = _div(df["patients_flagged"], df["patients_evaluable"])
        df["patient_ci_low"], df["patient_ci_high"] = stats.proportion_ci(df["patients_flagged"], df["patients_evaluable"], "beta")
    return marts


def _div(a, b):
    import numpy as np

    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _ae_stats(ae) -> None:
    from reports import stats

    ae["incidence_proportion"] = _div(ae["patients_with_event"], ae["patients_exposed"])
    ae["incidence_ci_low"], ae["incidence_ci_high"] = stats.proportion_ci(ae["patients_with_event"], ae["patients_exposed"], "beta")
    ae["per_100_sessions"] = 100 * _div(ae["events"], ae["sessions"])
    lo, hi = stats.poisson_rate_ci(ae["events"], ae["sessions"])
    ae["per_100_sessions_ci_low"], ae["per_100_sessions_ci_high"] = 100 * lo, 100 * hi
    ae["eaer_per_100py"] = 100 * _div(ae["events"], ae["patient_years"])
    lo, hi = stats.poisson_rate_ci(ae["events"], ae["patient_years"])
    ae["eaer_ci_low"], ae["eaer_ci_high"] = 100 * lo, 100 * hi
    ae["eair_per_100py"] = 100 * _div(ae["new_patients_with_event"], ae["py_at_risk"])
    lo, hi = stats.poisson_rate_ci(ae["new_patients_with_event"], ae["py_at_risk"])
    ae["eair_ci_low"], ae["eair_ci_high"] = 100 * lo, 100 * hi


def _survival(ttr) -> dict:
    """Kaplan-Meier of time to first response and, among responders, of time to relapse, per
    registry (and 'all'), treatment group (and 'all') and instrument.

    The pooled strata are index sets of ttr's rows (each row is in its registry's and in the 'all'
    registries' stratum, each with its group and with 'all' groups), in the sorted order a groupby
    of the four stacked copies would give, rather than a groupby over four copies of every row
    (~1M rows at 10M assessments, half a second of pandas); a fit does not depend on row order."""
    import numpy as np
    import pandas as pd

    from reports import stats

    curves, summaries = [], []
    if not ttr.empty:
        strata: dict[tuple, list] = {}
        for (reg, drug, route, inst), idx in ttr.groupby(["registry_id", "drug", "route", "instrument"], sort=False,
                                                         dropna=False).indices.items():
            for key in ((reg, drug, route, inst), ("all", drug, route, inst),
                        (reg, "all", "all", inst), ("all", "all", "all", inst)):
                if not any(pd.isna(k) for k in key):  # groupby leaves out NULL keys
                    strata.setdefault(key, []).append(idx)
        data = {c: ttr[c].to_numpy() for c in ("days_to_response", "responded", "days_to_relapse", "relapsed")}
        first = ttr["first_assessed_day"].to_numpy(dtype=float) if "first_assessed_day" in ttr else None
        for reg, drug, route, inst in sorted(strata):
            rows = np.concatenate(strata[(reg, drug, route, inst)])
            for outcome, dur, ev in (("response", "days_to_response", "responded"),
                                     ("relapse", "days_to_relapse", "relapsed")):
                d, e = data[dur][rows], data[ev][rows]
                if outcome == "relapse":
                    keep = pd.notna(d)
                    d, e = d[keep], e[keep]
                if len(d) == 0:
                    continue
                table, summ = stats.kaplan_meier(d, e.astype(bool), label=outcome)
                key = {"registry_id": reg, "drug": drug, "route": route, "instrument": inst, "outcome": outcome}
                curves.append(table.assign(**key))
                ds = np.sort(np.maximum(d.astype(float), 0))
                ds_ev = np.maximum(d.astype(float), 0)[e.astype(bool)]  # the event times
                # events by the median: the median (and its CI) tells that about half of n had one by then
                summ["events_median"] = int((ds_ev <= summ["median"]).sum()) if summ.get("median") is not None else None
                # response: assessed by day t = someone's first assessment on or before it; relapse
                # (time from response): someone's follow-up reached t
                f0 = float(np.nanmin(first[rows])) if outcome == "response" and first is not None else None
                for day in (1, 7, 14, 28, 84, 182):
                    v, lo, hi = stats.km_at(table, day, ds, f0)  # NaN where <= 10 at risk or none assessed by then
                    summ[f"cum_incidence_d{day}"] = v
                    summ[f"cum_incidence_d{day}_ci_low"] = lo
                    summ[f"cum_incidence_d{day}_ci_high"] = hi
                    summ[f"events_d{day}"] = int(((ds_ev <= day)).sum())  # events by that day (content.py)
                summaries.append({**key, **summ})
    cols = ["registry_id", "drug", "route", "instrument", "outcome"]
    km = pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(
        columns=cols + ["timeline", "at_risk", "cum_incidence", "ci_low", "ci_high", "events"])
    summary = pd.DataFrame(summaries) if summaries else pd.DataFrame(columns=cols + ["n", "events", "median"])
    return {"km_curves": km, "km_summary": summary,
            "durability": summary[summary["outcome"] == "relapse"] if not summary.empty else summary}


def _comparisons(rr, rg, ae):
    """Risk differences vs a reference group (esketamine intranasal when present, else the
    largest group: a regimen's name is never that, so regimens compare with the largest one), with
    Newcombe CIs: response by route and week, response by regimen, and patient incidence of each
    label group by route (cumulative)."""
    import numpy as np
    import pandas as pd

    from reports import stats

    rows = []

    def compare(kind, measure, df, key, k, n, reg):
        # a group without a denominator (e.g. a week whose followed patients all lack a score:
        # response_rates keeps that row for its patients_followed) has no rate to compare, and is
        # never the reference
        df = df[df[n] > 0]
        if df.empty:
            return
        sizes = df.groupby(key)[n].sum()
        ref = "esketamine intranasal" if "esketamine intranasal" in sizes.index else sizes.idxmax()
        refrow = df[df[key] == ref].iloc[0]
        for _, r in df.iterrows():
            diff, lo, hi = (np.nan, np.nan, np.nan) if r[key] == ref else stats.risk_difference_ci(
                int(r[k]), int(r[n]), int(refrow[k]), int(refrow[n]))
            rows.append({"registry_id": reg, "comparison": kind, "measure": measure, "group": r[key],
                         "reference": ref, "k": int(r[k]), "n": int(r[n]),
                         "rate": r[k] / r[n] if r[n] else np.nan,
                         "ref_k": int(refrow[k]), "ref_n": int(refrow[n]),
                         "difference": diff, "ci_low": lo, "ci_high": hi})

    r1 = rr[(rr["drug"] != "all")].copy()
    r1["group"] = r1["drug"] + " " + r1["route"]
    for (reg, inst, week), g in r1.groupby(["registry_id", "instrument", "week"]):
        compare("route", f"{inst} response at week {week}", g, "group", "responders", "patients_evaluable", reg)
    for (reg, inst, week), g in rg.groupby(["registry_id", "instrument", "week"]):
        compare("regimen", f"{inst} response at week {week}", g, "regimen", "responders", "patients_evaluable", reg)
    a1 = ae[(ae["level"] == "label_group") & (ae["period"] == "cumulative") & (ae["drug"] != "all")].copy()
    a1["group"] = a1["drug"] + " " + a1["route"]
    for (reg, term), g in a1.groupby(["registry_id", "term"]):
        compare("route", f"{term}: patients with event", g, "group", "patients_with_event", "patients_exposed", reg)
    cols = ["registry_id", "comparison", "measure", "group", "reference", "k", "n", "rate", "ref_k", "ref_n",
            "difference", "ci_low", "ci_high"]
    out = pd.DataFrame(rows, columns=cols)
    if out.empty:  # typed: empty object columns would become INTEGER in DuckDB (a LIKE on them fails)
        out = out.astype({**{c: "string" for c in cols[:5]}, **{c: "float64" for c in cols[5:]}})
    return out
