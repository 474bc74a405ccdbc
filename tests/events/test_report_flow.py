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
