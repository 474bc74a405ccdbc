"""`outcomes serve`: the event-driven service (see flows/serve.py), optionally with its own server.

    outcomes serve                  # PREFECT_API_URL points at a running Prefect server
    outcomes serve --with-server    # also start `prefect server start` (SQLite under ./data/prefect),
                                    # wait for /api/health, print the UI address, Ctrl-C stops both
    outcomes serve --automations-only   # create/refresh the notification automations and exit
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
from click.core import ParameterSource

DEFAULT_PREFECT_HOME = "./data/prefect"


def wait_healthy(api_url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> bool:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            if httpx.get(api_url.rstrip("/") + "/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    return False


def server_env(prefect_home: str | Path, base: dict | None = None) -> dict:
    env = dict(os.environ if base is None else base)
    home = Path(prefect_home).resolve()
    home.mkdir(parents=True, exist_ok=True)
    env["PREFECT_HOME"] = str(home)
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Write accepted events every second rather than every 5: the outbox marks a load sent once its
    # events are stored (flows/outbox.py), so this is how long it waits and what a crash can lose.
    env.setdefault("PREFECT_SERVER_SERVICES_EVENT_PERSISTER_FLUSH_INTERVAL", "1")
    env.pop("PREFECT_API_URL", None)  # the server itself must not talk to another one
    return env


def start_server(host: str, port: int, prefect_home: str | Path, log_path: Path | None = None,
                 extra_env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """`prefect server start` in its own session; returns (process, api_url) once /api/health answers."""
    env = server_env(prefect_home)
    env.update(extra_env or {})
    api = f"http://{host}:{port}/api"
    if wait_healthy(api, timeout=0.5):
        raise click.ClickException(f"a Prefect server already answers at {api}: run `PREFECT_API_URL={api} outcomes serve`")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    prefect_bin = Path(sys.executable).with_name("prefect")
    cmd = [str(prefect_bin) if prefect_bin.exists() else "prefect", "server", "start", "--host", host, "--port", str(port)]
    proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        healthy = wait_healthy(api, timeout=90, proc=proc)
    except BaseException:  # Ctrl-C / SIGTERM while it starts: it is in its own session, stop it here
        stop(proc, "prefect server")
        raise
    if not healthy:
        stop(proc, "prefect server")
        raise click.ClickException(f"Prefect server did not become healthy at {api}" +
                                   (f" (see {log_path})" if log_path else ""))
    return proc, api


def stop(proc: subprocess.Popen | None, what: str, grace: float = 20.0) -> None:
    """SIGINT, then SIGTERM, then SIGKILL to the child's process group, waiting `grace` each time."""
    if proc is None or proc.poll() is not None:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            click.echo(f"{what} still running after {sig.name}", err=True)


def run_with_server(host: str, port: int, prefect_home: str, serve_args: list[str]) -> int:
    """Start the server, then `outcomes serve` against it; Ctrl-C (or SIGTERM) stops serve, then the
    server. Returns the exit code."""
    home = Path(prefect_home).resolve()
    log_path = home / "server.log"
    home.mkdir(parents=True, exist_ok=True)
    server = serve = None
    # The children run in sessions of their own (a Ctrl-C on the terminal does not reach them), so
    # every way out of here must stop them. The handlers are in place before the server starts:
    # while it starts (seconds) the first signal interrupts the wait, later ones only set the flag.
    stopping = {"flag": False, "interrupt": True}

    def on_signal(signum, frame):
        stopping["flag"] = True
        if stopping["interrupt"]:
            stopping["interrupt"] = False
            raise KeyboardInterrupt

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        click.echo(f"starting Prefect server (PREFECT_HOME={home}, log {log_path}) ...", err=True)
        try:
            server, api = start_server(host, port, home, log_path)
        except KeyboardInterrupt:
            click.echo("interrupted while the Prefect server started", err=True)
            return 0
        stopping["interrupt"] = False
        env = dict(os.environ, PREFECT_API_URL=api, PREFECT_HOME=str(home))
        serve = subprocess.Popen([sys.executable, "-m", "outcomes.cli", "serve", *serve_args], env=env,
                                 start_new_session=True)
        ui = api[: -len("/api")]
        click.echo(f"Prefect UI: {ui}   (API {api}; Ctrl-C stops both)", err=True)
        while not stopping["flag"]:
            if serve.poll() is not None:
                click.echo(f"outcomes serve exited with {serve.returncode}", err=True)
                break
            if server.poll() is not None:
                click.echo(f"Prefect server exited with {server.returncode} (see {log_path})", err=True)
                break
            time.sleep(0.5)
    finally:
        stopping["interrupt"] = False
        if serve is not None:
            click.echo("stopping outcomes serve ...", err=True)
            stop(serve, "outcomes serve")
        if server is not None:
            click.echo("stopping Prefect server ...", err=True)
            stop(server, "prefect server")
        for s, h in old.items():
            signal.signal(s, h)
    return 0 if stopping["flag"] else 1


@click.command("serve")
@click.option("--with-server", is_flag=True, help="Also start a Prefect server (SQLite under --prefect-home).")
@click.option("--host", default="127.0.0.1", show_default=True, help="--with-server: address to listen on.")
@click.option("--port", default=4200, show_default=True, type=int, help="--with-server: port.")
@click.option("--prefect-home", default=DEFAULT_PREFECT_HOME, show_default=True,
              help="--with-server: PREFECT_HOME (database, logs).")
@click.option("--limit", default=12, show_default=True, type=click.IntRange(min=1), help="At most this many flow runs at once.")
@click.option("--no-automations", is_flag=True, help="Do not create the notification automations.")
@click.option("--automations-only", is_flag=True, help="Create or refresh the notification automations, then exit.")
def serve_command(with_server, host, port, prefect_home, limit, no_automations, automations_only):
    """Run the event-driven service: ingest on landing, watcher, sweep, pulls, monthly reports.

    Needs PREFECT_API_URL (a `prefect server start`), or --with-server. Configuration:
    outcomes.toml ($OUTCOMES_CONFIG). Exit 0 when stopped with Ctrl-C (with --with-server, also
    SIGTERM); 1 when the Prefect API cannot be reached or, with --with-server, the server does not
    start or the service or the server stops by itself; 2 on a usage or configuration error (no
    PREFECT_API_URL, an invalid outcomes.toml, no pseudonymisation key)."""
    import logging

    from outcomes.config import ConfigError, load_config

    try:
        load_config()
    except ConfigError as e:
        raise click.UsageError(str(e))
    if automations_only and (with_server or no_automations):
        # --with-server runs the whole service (which creates the automations as it starts), and
        # --no-automations contradicts it: either way the flag would be dropped without a word
        raise click.UsageError("--automations-only runs against a Prefect server that is already up "
                               "(PREFECT_API_URL); it cannot be combined with "
                               + ("--with-server" if with_server else "--no-automations") + ".")
    given = [f"--{name.replace('_', '-')}" for name in ("host", "port", "prefect_home")
             if click.get_current_context().get_parameter_source(name) is not ParameterSource.DEFAULT]
    if given and not with_server:  # they would be dropped without a word: the service uses PREFECT_API_URL
        raise click.UsageError(f"{', '.join(given)} apply only with --with-server (the Prefect server it "
                               "starts); a server already running is named by PREFECT_API_URL.")
    if with_server:
        args = ["--limit", str(limit)] + (["--no-automations"] if no_automations else [])
        sys.exit(run_with_server(host, port, prefect_home, args))
    if not os.environ.get("PREFECT_API_URL"):
        raise click.UsageError("PREFECT_API_URL is not set: point it at a Prefect server "
                               "(`prefect server start`), or use `outcomes serve --with-server`.")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if automations_only:
        from flows.automations import ensure_automations

        for line in ensure_automations(load_config()):
            click.echo(line)
        return
    from outcomes.cli import require_key

    require_key()
    from flows.serve import run_service

    run_service(limit=limit or None, automations=False if no_automations else None)
