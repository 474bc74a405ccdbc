"""Helpers of the events tests: `outcomes serve` processes, waiting, landing exports, reading events.

Kept out of conftest.py: test modules importing conftest by name loaded it a second time, which made a
second Prefect home and pointed PREFECT_HOME at it."""
from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def processes_with_env(entry: bytes) -> list[int]:
    """Live processes (this one excepted) whose environment holds `entry` (b"NAME=value")."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != os.getpid() and entry in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(pred, timeout: float, interval: float = 0.25, what: str = "condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except Exception as e:  # warehouse locked, not created yet, ...
            last = e
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Service:
    """One `outcomes serve` process with its own config, landing zone and warehouse."""

    def __init__(self, root: Path, api: str, registries: str = "", service: str = "", env: dict | None = None):
        self.root = root
        self.name = "t" + uuid.uuid4().hex[:8]
        self.landing = root / "landing"
        self.warehouse = root / "warehouse.duckdb"
        self.config = root / "outcomes.toml"
        self.config.write_text(
            f'landing_zone = "{self.landing}"\nwarehouse = "{self.warehouse}"\n'
            f'[service]\nname = "{self.name}"\nwatch_poll = 0.25\nsettle_seconds = 0.5\nsweep_interval = 300\n'
            f'automations = false\n{service}\n{registries}\n')
        self.api = api
        self.env = dict(os.environ, OUTCOMES_CONFIG=str(self.config), PREFECT_API_URL=api, **(env or {}))
        self.proc = None
        self.log = root / f"serve-{self.name}.log"

    def start(self, wait: bool = True):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "serve", "--no-automations"],
                                     env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        if wait:
            self.wait_started()
        return self

    def wait_started(self):
        wait_for(lambda: self.proc.poll() is None and b"outcomes serve:" in self.log.read_bytes(), 60,
                 what="outcomes serve to register its deployments")
        return self

    def kill(self):
        """kill -9 the service and every flow run it started (its process group), also when the
        service itself has already died."""
        import signal

        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)

    def processes(self) -> list[int]:
        """Live processes started for this service (its config in their environment), itself included."""
        return processes_with_env(f"OUTCOMES_CONFIG={self.config}".encode())

    def wait_gone(self, timeout: float) -> None:
        """Wait until nothing the dead service started lives on (its watcher flow run notices
        that its parent is gone and stops); on a timeout, name what is still alive."""
        try:
            wait_for(lambda: not self.processes(), timeout, what="the dead service's flow runs to stop")
        except AssertionError as e:
            alive = []
            for pid in self.processes():
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
                except OSError:
                    cmd, ppid = "(gone)", "?"
                alive.append(f"pid {pid} ppid {ppid}: {cmd[:300]}")
            raise AssertionError(f"{e}; still alive: {alive}") from None

    def stop(self):
        from flows.serve_command import stop

        stop(self.proc, "outcomes serve", grace=15)

    def loads(self) -> list[tuple]:
        from warehouse.connect import open_readonly

        if not self.warehouse.exists():
            return []
        con = open_readonly(self.warehouse, timeout=30)
        try:
            return con.execute("SELECT registry_id, export_id, status, load_id, reason FROM ops.loads "
                               "ORDER BY load_id").fetchall()
        finally:
            con.close()

    def sql(self, query: str, params=None) -> list[tuple]:
        from warehouse.connect import open_readonly

        con = open_readonly(self.warehouse, timeout=30)
        try:
            return con.execute(query, params or []).fetchall()
        finally:
            con.close()

    def wait_loaded(self, registry: str, export_ids: list[str], timeout: float = 60.0) -> list[tuple]:
        def done():
            rows = [r for r in self.loads() if r[0] == registry and r[1] in export_ids]
            return rows if {r[1] for r in rows} >= set(export_ids) else None

        return wait_for(done, timeout, what=f"{registry} {export_ids} in ops.loads (log {self.log})")


def read_events(api: str, prefix: str, since: str | None = None, limit: int = 50) -> list[dict]:
    import httpx

    body = {"filter": {"event": {"prefix": [prefix]}, "order": "ASC"}, "limit": limit}
    if since:
        body["filter"]["occurred"] = {"since": since}
    r = httpx.post(api + "/events/filter", json=body, timeout=10)
    r.raise_for_status()
    return r.json()["events"]


def land(src: Path, landing: Path, name: str | None = None) -> Path:
    """Copy an export into the landing zone the safe way (hidden name, then rename)."""
    import shutil

    landing.mkdir(parents=True, exist_ok=True)
    tmp = landing / f".{src.name}.{secrets.token_hex(3)}"
    shutil.copytree(src, tmp)
    final = landing / (name or src.name)
    os.rename(tmp, final)
    return final
