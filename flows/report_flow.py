"""The monthly report on a schedule: the 1st of each month, 06:00 in the registry's time zone, for
the previous month. The report itself is `outcomes report --month YYYY-MM --registry ID`
(reports.command); this flow only decides the month and runs it."""
from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger


def previous_month(when: datetime, tz: str = "UTC") -> str:
    """The month before `when` as seen in time zone tz, as YYYY-MM."""
    local = when.astimezone(ZoneInfo(tz)) if when.tzinfo else when
    first = date(local.year, local.month, 1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def report_command(month: str, registry_id: str | None) -> list[str]:
    cmd = [sys.executable, "-m", "outcomes.cli", "report", "--month", month]
    if registry_id:
        cmd += ["--registry", registry_id]
    return cmd


def _registries_in_warehouse() -> list[str]:
    from warehouse.connect import open_readonly

    con = open_readonly()
    try:
        return [r[0] for r in con.execute(
            "SELECT DISTINCT registry_id FROM ops.loads WHERE status = 'loaded' ORDER BY 1").fetchall()]
    finally:
        con.close()


# Worth another try a little later: a load held the warehouse beyond OUTCOMES_LOCK_TIMEOUT (the 1st
# of the month is when closing exports land), or another report was recorded meanwhile.
TRANSIENT = ("warehouse is busy", "another report was recorded")
RETRY_DELAYS = (60.0, 300.0)


def run_report(cmd: list[str], run=None, sleep=time.sleep, log=None) -> subprocess.CompletedProcess:
    """One registry's report, tried again after each of RETRY_DELAYS when it failed for a transient
    reason; any other failure (no data, a bug) is final at once."""
    run = run or subprocess.run
    for delay in (*RETRY_DELAYS, None):
        proc = run(cmd, capture_output=True, text=True)
        if proc.returncode == 0 or delay is None or not any(t in (proc.stderr or "") for t in TRANSIENT):
            return proc
        if log:
            log.warning("report %s: %s; trying again in %.0f s", cmd[-1], proc.stderr.strip()[-300:], delay)
        sleep(delay)
    return proc


@flow(name="monthly-report")
def monthly_report(registry_id: str | None = None, month: str | None = None) -> list[str]:
    """Run the report for `month` (default: the month before this run's scheduled time, in the
    registry's time zone). registry_id None: every registry that has loads."""
    import importlib.util

    from outcomes.config import registry_settings

    logger = get_run_logger()
    if importlib.util.find_spec("reports.command") is None:
        raise RuntimeError("the report command (reports.command) is not installed yet: nothing to run")
    from prefect.runtime import flow_run

    scheduled = flow_run.scheduled_start_time or datetime.now().astimezone()
    registries = [registry_id] if registry_id else _registries_in_warehouse()
    done, failed = [], []
    for rid in registries:  # every registry gets its report, whatever happened to the one before
        m = month or previous_month(scheduled, registry_settings(rid).timezone)
        cmd = report_command(m, rid)
        logger.info("running %s", " ".join(cmd[1:]))
        proc = run_report(cmd, log=logger)
        if proc.returncode != 0:
            msg = f"report for {rid} {m} failed ({proc.returncode}): {proc.stderr[-2000:]}"
            logger.error(msg)
            failed.append(msg)
            continue
        done.append(f"{rid}:{m}")
    if failed:
        raise RuntimeError(f"{len(failed)} of {len(registries)} report(s) failed; written: "
                           f"{', '.join(done) or 'none'}; " + "; ".join(failed))
    return done
