"""`outcomes.toml`: where exports land, where each registry's exports come from, and who is told.

The file is found at $OUTCOMES_CONFIG (default ./outcomes.toml). It is optional: every setting has a
default, so the demo runs with no file at all. Relative paths are relative to the working directory.
Plain data, no Prefect: `load_config()` and `registry_settings(registry_id)` are cheap to call.

    landing_zone = "./data/landing"
    [service]        name, sweep_interval, watch_poll, settle_seconds, stale_seconds, report_cron,
                     partial_grace_seconds, ...
    [defaults]       reject_threshold, timezone, pull_interval, notify (applies to every registry)
    [registries.<registry-id>]
                     source, source_options, pull_interval, reject_threshold, timezone, notify
"""
from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CONFIG_ENV = "OUTCOMES_CONFIG"
DEFAULT_CONFIG = "./outcomes.toml"
DEFAULT_LANDING = "./data/landing"
REGISTRY_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")


class ConfigError(ValueError):
    """The configuration file is unreadable or a setting is invalid (names the file and the key)."""


_SIZE_RE = re.compile(r"^\s*[0-9]+(\.[0-9]+)?\s*([KMGT]i?B|[KMGT]|B|%)?\s*$", re.I)


def env_seconds(name: str, default: float) -> float:
    """A number of seconds from the environment; a value that is not one is a configuration error
    naming the variable (the CLI exits 2 with it), not a traceback."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # NaN too
        raise ConfigError(f"{name}: expected a number of seconds, got {raw!r}")
    return value


def env_count(name: str, default: int) -> int:
    """A whole number >= 0 from the environment (0: DuckDB's default), as env_seconds."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not raw.strip().isdigit():
        raise ConfigError(f"{name}: expected a whole number, got {raw!r}")
    return int(raw)


def env_memory(name: str, default: str) -> str:
    """A DuckDB memory size from the environment ('1GB', '800MB', '80%'), as env_seconds."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    if not _SIZE_RE.match(raw):
        raise ConfigError(f"{name}: expected a memory size such as 1GB or 800MB, got {raw!r}")
    return raw.strip()


def check_environment() -> None:
    """Read every numeric OUTCOMES_* setting once, so that a bad one stops a command before it
    starts work (an ingest would otherwise meet it inside a flow run)."""
    env_seconds("OUTCOMES_LOCK_TIMEOUT", 60.0)
    env_memory("OUTCOMES_MEMORY_LIMIT", "1000MB")
    env_memory("OUTCOMES_DUCKDB_MEMORY_LIMIT", "1GB")
    env_count("OUTCOMES_DUCKDB_THREADS", 0)


@dataclass(frozen=True)
class RegistrySettings:
    registry_id: str
    source: str | None = None  # local folder | file://... | s3://bucket/prefix | http(s)://listing
    source_options: dict = field(default_factory=dict)  # fsspec storage options (endpoint_url, ...)
    pull_interval: float = 300.0  # seconds
    reject_threshold: float = 0.05
    timezone: str = "UTC"
    notify: tuple[str, ...] = ()  # webhook URLs told about rejections and safety alerts

    @property
    def source_kind(self) -> str | None:
        if not self.source:
            return None
        s = self.source.lower()
        if s.startswith(("http://", "https://")):
            return "http"
        if s.startswith("s3://"):
            return "s3"
        return "local"


@dataclass(frozen=True)
class ServiceSettings:
    name: str = "outcomes"  # instance name: scopes deployments, events and triggers
    sweep_interval: float = 300.0  # seconds between sweeps of the landing zone
    watch_poll: float = 0.5  # seconds between scans of the landing zone
    watch_cycle: float = 600.0  # a watcher run lasts this long; a new one is scheduled as often
    settle_seconds: float = 0.5  # file sizes must be unchanged this long before an export counts as landed
    stale_seconds: float = 600.0  # an export whose checksums never match is handed to ingest (to be rejected) after this
    report_cron: str = "0 6 1 * *"  # the monthly report, in each registry's time zone
    lock_lease_seconds: float = 60.0  # lease of the per-registry ingest slot (Prefect's minimum is 60)
    automations: bool = True  # create notification automations on start
    ingest_worker: bool = True  # ingest in the warm worker of `outcomes serve` (False: each in its own flow-run process)
    runner_poll: float = 0.5  # seconds between the runner's polls for triggered and scheduled runs
    partial_grace_seconds: float = 21600.0  # a pull's .partial copy unchanged this long is a killed pull's: removed


@dataclass(frozen=True)
class Config:
    landing_zone: Path = Path(DEFAULT_LANDING)
    warehouse: Path | None = None  # None: $OUTCOMES_WAREHOUSE or ./data/warehouse.duckdb
    service: ServiceSettings = field(default_factory=ServiceSettings)
    defaults: RegistrySettings = field(default_factory=lambda: RegistrySettings("*"))
    registries: dict[str, RegistrySettings] = field(default_factory=dict)
    path: Path | None = None  # the file read, if any

    def registry(self, registry_id: str) -> RegistrySettings:
        got = self.registries.get(registry_id)
        return got if got is not None else replace(self.defaults, registry_id=registry_id, source=None,
                                                   source_options={})


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _num(section: dict, key: str, default: float, where: str, low: float = 0.0, high: float | None = None) -> float:
    v = section.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ConfigError(f"{where}.{key}: expected a number, got {v!r}")
    if v < low or (high is not None and v > high):
        raise ConfigError(f"{where}.{key}: {v} is outside {low}..{high if high is not None else 'inf'}")
    return float(v)


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    from zoneinfo import available_timezones

    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """An IANA zone name (exact case) that both zoneinfo and DuckDB know. Not `localtime`, which
    zoneinfo reads from the system and DuckDB does not have."""
    if not isinstance(name, str) or name not in _zone_names():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _tz(value, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}.timezone: expected a time zone name such as 'Europe/Oslo'")
    if not is_timezone(value):
        raise ConfigError(f"{where}.timezone: unknown time zone {value!r} (an IANA name such as 'Europe/Oslo')")
    return value


def _notify(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}.notify: expected a list of webhook URLs")
    for v in value:
        if not v.lower().startswith(("http://", "https://")):
            raise ConfigError(f"{where}.notify: {v!r} is not an http(s) URL")
    return tuple(value)


def _registry(registry_id: str, section: dict, base: RegistrySettings, where: str) -> RegistrySettings:
    unknown = set(section) - {"source", "source_options", "pull_interval", "reject_threshold", "timezone", "notify"}
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(unknown))}")
    source = section.get("source", base.source)
    if source is not None and (not isinstance(source, str) or not source.strip()):
        raise ConfigError(f"{where}.source: expected a folder, s3:// or http(s):// URL")
    opts = section.get("source_options", base.source_options)
    if not isinstance(opts, dict):
        raise ConfigError(f"{where}.source_options: expected a table")
    return RegistrySettings(
        registry_id=registry_id,
        source=source,
        source_options=dict(opts),
        pull_interval=_num(section, "pull_interval", base.pull_interval, where, low=1),
        reject_threshold=_num(section, "reject_threshold", base.reject_threshold, where, 0, 1),
        timezone=_tz(section.get("timezone", base.timezone), where),
        notify=_notify(section.get("notify", list(base.notify)), where),
    )


def parse_config(data: dict, path: Path | None = None) -> Config:
    where = str(path) if path else "outcomes.toml"
    top_unknown = set(data) - {"landing_zone", "warehouse", "service", "defaults", "registries"}
    if top_unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(top_unknown))}")
    svc = data.get("service", {})
    if not isinstance(svc, dict):
        raise ConfigError(f"{where}: [service] must be a table")
    unknown = set(svc) - set(ServiceSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{where} [service]: unknown setting(s) {', '.join(sorted(unknown))}")
    d = ServiceSettings()
    name = svc.get("name", d.name)
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ConfigError(f"{where} [service].name: expected [a-z0-9][a-z0-9-]{{0,39}}")
    cron = svc.get("report_cron", d.report_cron)
    if not isinstance(cron, str) or len(cron.split()) != 5:
        raise ConfigError(f"{where} [service].report_cron: expected a 5-field cron expression")
    service = ServiceSettings(
        name=name,
        sweep_interval=_num(svc, "sweep_interval", d.sweep_interval, f"{where} [service]", low=1),
        watch_poll=_num(svc, "watch_poll", d.watch_poll, f"{where} [service]", low=0.05),
        watch_cycle=_num(svc, "watch_cycle", d.watch_cycle, f"{where} [service]", low=10),
        settle_seconds=_num(svc, "settle_seconds", d.settle_seconds, f"{where} [service]"),
        stale_seconds=_num(svc, "stale_seconds", d.stale_seconds, f"{where} [service]", low=1),
        report_cron=cron,
        lock_lease_seconds=_num(svc, "lock_lease_seconds", d.lock_lease_seconds, f"{where} [service]", low=60),
        automations=bool(svc.get("automations", d.automations)),
        ingest_worker=bool(svc.get("ingest_worker", d.ingest_worker)),
        runner_poll=_num(svc, "runner_poll", d.runner_poll, f"{where} [service]", low=0.2),
        partial_grace_seconds=_num(svc, "partial_grace_seconds", d.partial_grace_seconds, f"{where} [service]",
                                   low=60),
    )
    dsec = data.get("defaults", {})
    if not isinstance(dsec, dict):
        raise ConfigError(f"{where}: [defaults] must be a table")
    if "source" in dsec:
        raise ConfigError(f"{where} [defaults]: source is set per registry only")
    defaults = _registry("*", dsec, RegistrySettings("*"), f"{where} [defaults]")
    registries = {}
    for rid, section in (data.get("registries") or {}).items():
        if not REGISTRY_RE.match(rid):
            raise ConfigError(f"{where} [registries.{rid}]: registry ids match [a-z0-9][a-z0-9-]{{0,63}}")
        if not isinstance(section, dict):
            raise ConfigError(f"{where} [registries.{rid}] must be a table")
        registries[rid] = _registry(rid, section, defaults, f"{where} [registries.{rid}]")
    landing = data.get("landing_zone", DEFAULT_LANDING)
    warehouse = data.get("warehouse")
    for key, v in (("landing_zone", landing), ("warehouse", warehouse)):
        if v is not None and (not isinstance(v, str) or not v.strip()):
            raise ConfigError(f"{where}.{key}: expected a path")
    return Config(landing_zone=Path(landing), warehouse=Path(warehouse) if warehouse else None,
                  service=service, defaults=defaults, registries=registries, path=path)


def load_config(path: str | Path | None = None) -> Config:
    """Read outcomes.toml ($OUTCOMES_CONFIG, default ./outcomes.toml). A missing file at the default
    location means all defaults; a missing file named explicitly (argument or env) is an error."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    p = Path(path) if path is not None else config_path()
    if not p.exists():
        if explicit:
            raise ConfigError(f"configuration file {p} does not exist"
                              + (f" (named by {CONFIG_ENV})" if path is None else ""))
        return Config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML ({e})")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read it ({e.strerror or e})")
    return parse_config(data, p)


def registry_settings(registry_id: str, config: Config | None = None) -> RegistrySettings:
    """Settings of one registry, defaults filled in (a registry not in the file gets [defaults])."""
    return (config or load_config()).registry(registry_id)


def warehouse_for(config: Config) -> Path:
    """The warehouse file: the config's `warehouse`, else $OUTCOMES_WAREHOUSE, else the default."""
    from warehouse.connect import warehouse_path

    return Path(config.warehouse) if config.warehouse else warehouse_path(None)


def resolve_warehouse(flag: str | Path | None = None, config: Config | None = None) -> Path:
    """The warehouse every command uses: --warehouse, else outcomes.toml's `warehouse`, else
    $OUTCOMES_WAREHOUSE, else ./data/warehouse.duckdb. outcomes.toml is read only when no flag is
    given (a broken file then raises ConfigError)."""
    if flag:
        return Path(flag)
    return warehouse_for(config if config is not None else load_config())


__all__ = ["Config", "ConfigError", "RegistrySettings", "ServiceSettings", "load_config", "parse_config",
           "registry_settings", "warehouse_for", "resolve_warehouse", "is_timezone", "config_path"]
