"""Plain functions behind the flows: configuration, landing-zone completeness, event payloads."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.exports import write_export


def test_config_defaults_without_a_file(tmp_path, monkeypatch):
    from outcomes.config import load_config, registry_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OUTCOMES_CONFIG", raising=False)
    cfg = load_config()
    assert cfg.landing_zone == Path("./data/landing") and cfg.path is None
    r = registry_settings("anything", cfg)
    assert (r.reject_threshold, r.timezone, r.notify, r.source) == (0.05, "UTC", (), None)
    assert cfg.service.sweep_interval == 300 and cfg.service.report_cron == "0 6 1 * *"


def test_config_file_registries_and_defaults(tmp_path, monkeypatch):
    from outcomes.config import load_config, registry_settings

    p = tmp_path / "o.toml"
    p.write_text('''
landing_zone = "/srv/landing"
[defaults]
timezone = "Europe/Oslo"
notify = ["https://hooks.example.org/all"]
[registries.north]
source = "s3://bucket/north"
source_options = { endpoint_url = "http://127.0.0.1:9000" }
pull_interval = 60
reject_threshold = 0.1
''')
    monkeypatch.setenv("OUTCOMES_CONFIG", str(p))
    cfg = load_config()
    n = registry_settings("north", cfg)
    assert (n.source_kind, n.pull_interval, n.reject_threshold, n.timezone) == ("s3", 60, 0.1, "Europe/Oslo")
    assert n.notify == ("https://hooks.example.org/all",)
    assert registry_settings("south", cfg).timezone == "Europe/Oslo"
    assert load_config().landing_zone == Path("/srv/landing")


@pytest.mark.parametrize("text, needle", [
    ('[defaults]\ntimezone = "Mars/Olympus"', "unknown time zone"),
    ('[registries.North]\nsource = "x"', "registry ids"),
    ('[registries.a]\nreject_threshold = 2', "outside"),
    ('[registries.a]\nnotify = ["mailto:x@y"]', "not an http"),
    ('[service]\nbogus = 1', "unknown setting"),
    ('landing_zone = ', "not valid TOML"),
])
def test_config_errors_name_the_setting(tmp_path, text, needle):
    from outcomes.config import ConfigError, load_config

    p = tmp_path / "o.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_config(p)


def test_explicit_missing_config_is_an_error(tmp_path, monkeypatch):
    from outcomes.config import ConfigError, load_config

    monkeypatch.setenv("OUTCOMES_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError):
        load_config()


def test_tracker_waits_for_complete_and_settled(tmp_path):
    from flows.watch import READY, Tracker

    src = write_export(tmp_path / "src", export_id="e1")
    landing = tmp_path / "landing"
    dest = landing / "e1"
    dest.mkdir(parents=True)
    (dest / "manifest.json").write_bytes((src / "manifest.json").read_bytes())
    t = Tracker(settle_seconds=1.0, stale_seconds=100)
    assert t.scan(landing, now=0) == [] and t.scan(landing, now=5) == []  # files missing
    for f in src.iterdir():
        (dest / f.name).write_bytes(f.read_bytes()[:10])  # short files
    assert t.scan(landing, now=6) == [] and t.scan(landing, now=8) == []  # sha mismatch
    for f in src.iterdir():
        (dest / f.name).write_bytes(f.read_bytes())
    assert t.scan(landing, now=9) == []  # changed: must settle first
    got = t.scan(landing, now=10.5)
    assert [(c.path, c.state, c.export_id) for c in got] == [(dest, READY, "e1")]
    # an export that never completes is handed over (to be rejected) once stale
    (dest / "labs.csv").unlink()
    t.scan(landing, now=11)
    assert t.scan(landing, now=50) == []
    assert [c.state for c in t.scan(landing, now=112)] == ["incomplete"]


def test_hidden_and_partial_names_are_ignored(tmp_path):
    from flows.watch import candidates

    write_export(tmp_path / "landing", export_id=".copying")
    write_export(tmp_path / "landing", export_id="x.partial")
    write_export(tmp_path / "landing" / "reg", export_id="ok")
    assert [p.name for p in candidates(tmp_path / "landing")] == ["ok"]


def test_pending_orders_by_exported_at_and_filters(tmp_path):
    from flows.watch import pending

    landing = tmp_path / "landing"
    write_export(landing, registry="r", export_id="z-first", exported_at="2025-01-01T00:00:00Z")
    write_export(landing, registry="r", export_id="a-second", exported_at="2025-02-01T00:00:00Z")
    write_export(landing, registry="q", export_id="other", exported_at="2024-01-01T00:00:00Z")
    got = pending(landing, tmp_path / "none.duckdb", "r")
    assert [c.export_id for c in got] == ["z-first", "a-second"]
    got = pending(landing, tmp_path / "none.duckdb", "r", up_to="2025-01-15T00:00:00+00:00")
    assert [c.export_id for c in got] == ["z-first"]
    assert [c.export_id for c in pending(landing, tmp_path / "none.duckdb")] == ["other", "z-first", "a-second"]


def test_outcome_events_carry_no_patient_data():
    from flows.events import ALERT, LOADED, REJECTED, build_outcome_events

    result = {"registry_id": "r", "export_id": "e", "status": "loaded", "load_id": 7,
              "tables": {"vitals": {"loaded": 3, "quarantined": 1}}}
    ev = build_outcome_events(result, [("vitals.spo2.low", "vitals", 2)], "inst")
    assert [e["event"] for e in ev] == [LOADED, ALERT]
    assert ev[1]["payload"]["rule"] == "vitals.spo2.low" and ev[1]["payload"]["rows"] == 2
    assert ev[1]["resource"]["outcomes.registry"] == "r" and ev[1]["resource"]["outcomes.instance"] == "inst"
    rej = build_outcome_events({"registry_id": "r", "export_id": "e", "status": "rejected", "reason": "x"}, [], "i")
    assert rej[0]["event"] == REJECTED and rej[0]["payload"]["reason"] == "x"
    assert set(ev[1]["payload"]) == {"registry", "export_id", "load_id", "exported_at", "rule", "table", "rows",
                                     "category", "description"}


def test_deployment_specs_and_previous_month():
    from datetime import datetime, timezone

    from flows.report_flow import previous_month
    from flows.serve import deployment_specs
    from outcomes.config import parse_config

    cfg = parse_config({"registries": {"north": {"source": "/x", "timezone": "America/New_York"}}})
    specs = {f"{s['flow']}|{s['name']}": s for s in deployment_specs(cfg)}
    assert specs["flows.report_flow:monthly_report|outcomes-north"]["timezone"] == "America/New_York"
    assert "flows.pull:pull_exports|outcomes-north" in specs
    trig = specs["flows.sweep:ingest_landed|outcomes"]["trigger"]
    assert trig["expect"] == ["registry.export.landed"] and "outcomes.export.location" in trig["parameters"]["location"]
    # 1 March 06:00 in New York is 11:00 UTC: the previous month is February
    assert previous_month(datetime(2026, 3, 1, 11, 0, tzinfo=timezone.utc), "America/New_York") == "2026-02"
    # 1 March 00:30 UTC is still 28 February in New York
    assert previous_month(datetime(2026, 3, 1, 0, 30, tzinfo=timezone.utc), "America/New_York") == "2026-01"


def test_automation_specs():
    from flows.automations import automation_specs
    from outcomes.config import parse_config

    cfg = parse_config({"defaults": {"notify": ["https://a.example/x"]},
                        "registries": {"north": {"notify": ["https://a.example/x", "https://b.example/y"]}}})
    specs = automation_specs(cfg)
    assert [s["name"] for s in specs] == ["outcomes: notify all registries", "outcomes: notify north"]
    assert specs[1]["targets"] == ["https://b.example/y"] and specs[1]["match"]["outcomes.registry"] == "north"


def test_every_alert_rule_has_an_event_category_and_description():
    """A webhook routes on the alert's category: a rule of alert severity that flows/events.py does
    not name reached it as category "other" with its bare rule id (the vital-sign range rules did);
    and a rule named there that the suites no longer raise as an alert (moved to warning) must fail
    too, so the sets are equal, not merely included."""
    from expectations.runner import load_suite
    from flows.events import ALERT_CATEGORY, ALERT_RULES
    from transforms.tables import TABLES

    alert_rules = {e.meta["rule"] for t in TABLES for e in load_suite(t).expectations
                   if e.meta.get("severity") == "alert"}
    assert alert_rules
    assert alert_rules == set(ALERT_CATEGORY), sorted(alert_rules ^ set(ALERT_CATEGORY))
    assert alert_rules == set(ALERT_RULES), sorted(alert_rules ^ set(ALERT_RULES))
    assert set(ALERT_CATEGORY) == set(ALERT_RULES)
