"""Whether the `outcomes serve` that started this flow run's process has died (kill -9, OOM).

Flow runs of the service are its child processes; two of them wait on it (the watcher, which
must stop so that the restarted service's watcher is the only one, and a triggered ingest waiting
for the warm worker's result, which would wait for ever). Comparing os.getppid() with its value
at the start of the wait misses a service that died before the wait began (the process is then
already the child of init, and init never changes), so the service writes its pid into the
environment its flow runs inherit (SERVICE_PID_ENV), and the check uses that pid too.
"""
from __future__ import annotations

import os
from collections.abc import Callable

SERVICE_PID_ENV = "OUTCOMES_SERVICE_PID"


def mark_service() -> None:
    """Called by `outcomes serve` before it starts any flow run."""
    os.environ[SERVICE_PID_ENV] = str(os.getpid())


def _alive(pid: int) -> bool:
    """A live process (a zombie is dead: killed and not yet reaped by its parent)."""
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def service_gone_check() -> Callable[[], bool]:
    """A check to call while waiting: True once the service that started this process is gone.

    In the service's own process (or outside a service) only a change of parent counts."""
    parent = os.getppid()
    text = os.environ.get(SERVICE_PID_ENV, "")
    service = int(text) if text.isdigit() else None
    if service is None or service == os.getpid():
        return lambda: os.getppid() != parent
    return lambda: os.getppid() != parent or not _alive(service)
