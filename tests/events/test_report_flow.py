"""The scheduled monthly report: one registry's failure does not cost the others their report."""
from __future__ import annotations

import subprocess

import pytest


def test_all_registries_report_runs_every_registry_even_when_one_fails(monkeypatch):
    import flows.report_flow as rf

    ran = []

    def fake_run(cmd, **kwargs):
        rid = cmd[cmd.index("--registry") + 1]
        ran.append(rid)
        code = 1 if rid == "a-first" else 0
        return subprocess.CompletedProcess(cmd, code, "", "Error: no data: nothing in 2025-01" if code else "")

    monkeypatch.setattr(rf.subprocess, "run", fake_run)
    monkeypatch.setattr(rf, "_registries_in_warehouse", lambda: ["a-first", "b-second", "c-third"])
    with pytest.raises(RuntimeError, match="a-first") as e:
        rf.monthly_report(month="2025-01")
    assert ran == ["a-first", "b-second", "c-third"]
    assert "1 of 3" in str(e.value) and "b-second:2025-01, c-third:2025-01" in str(e.value)


def test_a_busy_warehouse_is_tried_again_and_no_data_is_not():
    """The 1st of the month is when closing exports land: a report that found the warehouse held
    by a load beyond the lock timeout (or lost a ledger race) failed the month until someone re-ran
    it."""
    from flows.report_flow import RETRY_DELAYS, run_report

    def runner(*stderrs):
        calls = []

        def run(cmd, **kw):
            err = stderrs[len(calls)]
            calls.append(cmd)
            return subprocess.CompletedProcess(cmd, 1 if err else 0, "", err)
        return run, calls

    slept: list[float] = []
    run, calls = runner("Error: warehouse is busy (locked by another process) after 60 s; try again",
                        "Error: another report was recorded while this one was made, and 2 ...", "")
    assert run_report(["report", "--registry", "a"], run=run, sleep=slept.append).returncode == 0
    assert len(calls) == 3 and slept == list(RETRY_DELAYS)
    slept.clear()
    run, calls = runner("Error: no data: no sessions in 2025-01")
    assert run_report(["report"], run=run, sleep=slept.append).returncode == 1
    assert len(calls) == 1 and slept == []
    busy = "Error: warehouse is busy (locked by another process) after 60 s; try again"
    run, calls = runner(busy, busy, busy)
    assert run_report(["report"], run=run, sleep=slept.append).returncode == 1 and len(calls) == 3
