"""`outcomes serve`: every deployment of the service, served by one Prefect runner in one process.

Deployments (named after the instance, `[service].name`, default "outcomes"):
- ingest-landed-export/<name>  triggered by `registry.export.landed` events of this instance; the
  event's resource label `outcomes.export.location` becomes the `location` parameter;
- watch-landing-zone/<name>    a watcher run every watch_cycle seconds (runs overlap slightly);
- sweep-landing-zone/<name>    every sweep_interval seconds (default 300);
- pull-exports/<name>-<registry>   per registry with a source, every pull_interval seconds;
- monthly-report/<name>-<registry> cron `report_cron` (default 1st 06:00) in the registry's time zone
  (one `monthly-report/<name>-all` in UTC when no registry is configured).
On start the watcher, the sweep and the pulls are also run at once (nothing waits for the first tick), the
per-registry concurrency limits are created and, unless disabled, the notification automations.
"""
from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path

from outcomes import scratch
from outcomes.config import Config, load_config, warehouse_for

log = logging.getLogger(__name__)

LOCATION_TEMPLATE = "{{ event.resource['outcomes.export.location'] }}"
REGISTRY_TEMPLATE = "{{ event.resource['outcomes.registry'] }}"
RUNNER_PREFIX = "outcomes-serve-"  # of its runner storage folder


def deployment_specs(cfg: Config) -> list[dict]:
    """What `outcomes serve` deploys, as plain data (unit-tested; build_deployments turns it into
    Prefect RunnerDeployments)."""
    name = cfg.service.name
    specs = [
        {"flow": "flows.sweep:ingest_landed", "name": name, "trigger": {
            "name": f"{name}: ingest landed exports", "expect": ["registry.export.landed"],
            "match": {"outcomes.instance": name},
            "parameters": {"location": LOCATION_TEMPLATE, "registry_id": REGISTRY_TEMPLATE}},
         "description": "Ingest an export when it lands (after every earlier pending export of its registry)."},
        {"flow": "flows.watch:watch_landing", "name": name, "interval": cfg.service.watch_cycle,
         "description": f"Watch {cfg.landing_zone} and emit registry.export.landed for complete exports."},
        {"flow": "flows.sweep:sweep_landing", "name": name, "interval": cfg.service.sweep_interval,
         "description": "Ingest every landed export not yet recorded in ops.loads."},
    ]
    for rid, reg in sorted(cfg.registries.items()):
        if reg.source:
            specs.append({"flow": "flows.pull:pull_exports", "name": f"{name}-{rid}", "interval": reg.pull_interval,
                          "parameters": {"registry_id": rid}, "single": True,
                          "description": f"Copy new exports of {rid} from {reg.source_kind} source into the landing zone."})
    report_targets = [(rid, reg.timezone) for rid, reg in sorted(cfg.registries.items())] or [("all", "UTC")]
    for rid, tz in report_targets:
        specs.append({"flow": "flows.report_flow:monthly_report", "name": f"{name}-{rid}",
                      "cron": cfg.service.report_cron, "timezone": tz,
                      "parameters": {"registry_id": None if rid == "all" else rid},
                      "description": f"Monthly report of {rid} for the previous month ({cfg.service.report_cron}, {tz})."})
    return specs


def _load_flow(ref: str):
    import importlib

    module, attr = ref.split(":")
    return getattr(importlib.import_module(module), attr)


def build_deployments(cfg: Config) -> list:
    from prefect.deployments.runner import EntrypointType
    from prefect.events import DeploymentEventTrigger
    from prefect.schedules import Cron, Interval

    out = []
    for spec in deployment_specs(cfg):
        kwargs = {"name": spec["name"], "description": spec["description"], "tags": ["outcomes", cfg.service.name],
                  "entrypoint_type": EntrypointType.MODULE_PATH, "parameters": spec.get("parameters") or {}}
        if "trigger" in spec:
            t = spec["trigger"]
            kwargs["triggers"] = [DeploymentEventTrigger(name=t["name"], expect=set(t["expect"]), match=t["match"],
                                                         parameters=t["parameters"])]
        if "interval" in spec:
            kwargs["schedules"] = [Interval(timedelta(seconds=spec["interval"]))]
        if spec.get("single"):  # a slow pull never overlaps the next tick: the new run is cancelled
            from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

            kwargs["concurrency_limit"] = ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW)
        if "cron" in spec:
            kwargs["schedules"] = [Cron(spec["cron"], timezone=spec["timezone"])]
        out.append(_load_flow(spec["flow"]).to_deployment(**kwargs))
    return out


def drop_missed_ticks(deployment_ids: list, before=None) -> int:
    """Cancel the scheduled runs of these (interval) deployments that were due before `before`
    (default: now), and return how many.

    Why: the server keeps scheduling the watcher, sweep and pull ticks while no service runs them
    (down for an hour: ~6 watchers, ~12 sweeps, ~12 pulls per registry), and a runner starts every
    late run at once, up to its limit: 10-minute watchers then fill its slots, hash each new export
    several times over and hold back the triggered ingest runs. The runs `outcomes serve` starts
    at once (the watcher, the sweep, the pulls) do what the missed ticks would have done."""
    from datetime import datetime, timezone

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterExpectedStartTime, FlowRunFilterState,
                                                FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType
    from prefect.states import Cancelled

    if not deployment_ids:
        return 0
    before = before or datetime.now(timezone.utc)
    dropped, seen = 0, set()
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=list(deployment_ids))),
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                    expected_start_time=FlowRunFilterExpectedStartTime(before_=before)),
                limit=200)
            runs = [r for r in runs if r.id not in seen]
            if not runs:
                return dropped
            for r in runs:
                seen.add(r.id)
                client.set_flow_run_state(r.id, Cancelled(message="missed while outcomes serve was down; "
                                                                  "its start-up run does this work"), force=True)
                dropped += 1


def export_paths(cfg: Config) -> None:
    """Flow runs are subprocesses: give them the same configuration and absolute paths, and this
    process's pid (flows/parent.py: they notice when it is gone)."""
    from flows.parent import mark_service

    mark_service()
    if cfg.path is not None:
        os.environ["OUTCOMES_CONFIG"] = str(Path(cfg.path).resolve())
    os.environ["OUTCOMES_WAREHOUSE"] = str(warehouse_for(cfg).resolve())


def run_service(limit: int | None = 12, kick: bool = True, automations: bool | None = None) -> None:
    """Register every deployment, create limits (and automations), run the watcher and the sweep
    now, then serve until interrupted (Ctrl-C / SIGTERM)."""
    import asyncio

    from prefect.deployments import run_deployment
    from prefect.runner import Runner

    from flows.sweep import ensure_limit, lock_name
    from warehouse.connect import ensure_warehouse

    if not os.environ.get("PREFECT_API_URL"):
        raise RuntimeError("PREFECT_API_URL is not set: `outcomes serve` needs a Prefect server "
                           "(start one with `outcomes serve --with-server`, or `prefect server start`).")
    cfg = load_config()
    export_paths(cfg)
    Path(cfg.landing_zone).mkdir(parents=True, exist_ok=True)
    ensure_warehouse(warehouse_for(cfg))
    for rid in cfg.registries:
        ensure_limit(lock_name(rid))
    if automations if automations is not None else cfg.service.automations:
        from flows.automations import ensure_automations

        try:
            for line in ensure_automations(cfg):
                log.info(line)
        except Exception as e:  # notifications must not keep ingest from starting
            log.error("could not create notification automations: %s", e)
    warm_worker = cfg.service.ingest_worker
    if warm_worker:
        from flows.worker import WORKER_ENV

        os.environ[WORKER_ENV] = "1"  # inherited by the flow runs: they hand ingests to the worker
    poll = float(os.environ.get("PREFECT_RUNNER_POLL_FREQUENCY") or cfg.service.runner_poll)
    runner = Runner(name=f"outcomes-{cfg.service.name}", pause_on_shutdown=False, limit=limit, query_seconds=poll)
    # Prefect names its storage folder runner_storage/<uuid> and removes it on a clean exit only;
    # named after this process, a service killed by kill -9 leaves one the next start removes.
    runner._tmp_dir = scratch.make(RUNNER_PREFIX, runner._tmp_dir.parent)
    deployments = build_deployments(cfg)
    ids = [runner.add_deployment(d) for d in deployments]
    if kick:
        interval_ids = [i for spec, i in zip(deployment_specs(cfg), ids) if "interval" in spec]
        try:
            dropped = drop_missed_ticks(interval_ids)
            if dropped:
                log.info("cancelled %d watcher/sweep/pull run(s) missed while the service was down", dropped)
        except Exception as e:  # never keep the service from starting
            log.warning("could not cancel the runs missed while the service was down: %s", e)
        refs = [f"watch-landing-zone/{cfg.service.name}", f"sweep-landing-zone/{cfg.service.name}"]
        refs += [f"pull-exports/{cfg.service.name}-{rid}" for rid, reg in sorted(cfg.registries.items()) if reg.source]
        for ref in refs:
            run_deployment(ref, timeout=0, tags=["outcomes", "startup"])
    names = ", ".join(f"{d.flow_name}/{d.name}" for d in deployments)
    print(f"outcomes serve: {len(deployments)} deployments ({names}); landing zone {Path(cfg.landing_zone).resolve()}; "
          f"warehouse {warehouse_for(cfg).resolve()}; Prefect API {os.environ['PREFECT_API_URL']}", flush=True)
    async def main() -> None:
        if not warm_worker:
            await runner.start()
            return
        from flows.worker import serve_worker

        # either one ending (Ctrl-C, SIGTERM, a crash) ends the service
        tasks = [asyncio.create_task(runner.start()), asyncio.create_task(serve_worker(cfg.service.name))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                t.result()
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        log.info("interrupted: shutting down")
    finally:
        # stopped by SIGTERM, the Runner leaves its storage folder (empty here: the flows' code is local)
        shutil.rmtree(runner._tmp_dir, ignore_errors=True)
