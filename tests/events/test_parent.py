"""flows/parent.py: a flow run notices that the service that started it died, even when it died
before the flow run began to watch (the process is then init's child already)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from flows.parent import SERVICE_PID_ENV, service_gone_check

ROOT = Path(__file__).resolve().parents[2]


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_service_that_died_before_the_wait_is_gone(monkeypatch):
    monkeypatch.setenv(SERVICE_PID_ENV, str(_dead_pid()))
    assert service_gone_check()()  # getppid() has not changed since the check was made: the pid tells


def test_a_live_service_is_not_gone(monkeypatch):
    monkeypatch.setenv(SERVICE_PID_ENV, str(os.getppid()))
    assert not service_gone_check()()


def test_in_the_service_itself_or_outside_one_only_a_new_parent_counts(monkeypatch):
    monkeypatch.setenv(SERVICE_PID_ENV, str(os.getpid()))
    assert not service_gone_check()()
    monkeypatch.delenv(SERVICE_PID_ENV)
    assert not service_gone_check()()


def test_orphaned_before_the_check_began(tmp_path):
    """A 'service' starts a flow-run-like child and is killed before the child starts to wait: the
    child, now init's, must still see the service gone (comparing getppid() alone would not)."""
    child = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        while os.getppid() == int(os.environ["{SERVICE_PID_ENV}"]):
            time.sleep(0.01)  # wait for the service to die first
        from flows.parent import service_gone_check
        print("gone" if service_gone_check()() else "alive", flush=True)
    """)
    service = textwrap.dedent(f"""
        import os, subprocess, sys
        os.environ["{SERVICE_PID_ENV}"] = str(os.getpid())
        c = subprocess.Popen([sys.executable, "-c", {child!r}], stdout=open({str(tmp_path / "out")!r}, "w"))
        print(c.pid, flush=True)
        os.kill(os.getpid(), 9)
    """)
    p = subprocess.run([sys.executable, "-c", service], capture_output=True, text=True, cwd=ROOT)
    child_pid = int(p.stdout.split()[0])
    deadline = time.monotonic() + 30
    while (tmp_path / "out").read_text().strip() == "" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (tmp_path / "out").read_text().strip() == "gone", child_pid
