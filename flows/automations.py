"""Notification automations: rejections and safety alerts become webhook calls.

For each notify target (outcomes.toml `notify = [...]`, per registry or in [defaults]) a Prefect
`Webhook` block `outcomes-notify-<hash>` is saved, and one automation per (instance, registry scope)
listens for `outcomes.export.rejected` and `outcomes.safety.alert` and calls every target of that
scope with a small JSON body (registry, export, event, rule or reason; never patient data).

Created by `outcomes serve` on start, or alone with `outcomes serve --automations-only`. To send
e-mail or chat instead of a raw webhook, see docs/operations.md (Slack/Teams incoming webhooks take
the same URL form; e-mail goes through a notification block and a SendNotification action).
"""
from __future__ import annotations

import hashlib

from outcomes.config import Config

# every value through tojson: an export label can be a file name with quotes or backslashes (a
# rejected export whose manifest cannot be read), and a body that is not JSON is refused by the target
PAYLOAD_TEMPLATE = (
    '{"source": "ketamine-outcomes", "event": {{ event.event | tojson }}, '
    '"registry": {{ event.resource[\'outcomes.registry\'] | tojson }}, '
    '"export": {{ event.resource[\'outcomes.export\'] | tojson }}, '
    '"rule": {{ (event.payload.rule or \'\') | tojson }}, '
    '"description": {{ (event.payload.description or \'\') | tojson }}, '
    '"reason": {{ (event.payload.reason or \'\') | tojson }}, '
    '"occurred": "{{ event.occurred }}"}'
)


def block_name(url: str) -> str:
    return "outcomes-notify-" + hashlib.sha256(url.encode()).hexdigest()[:12]


def automation_specs(cfg: Config) -> list[dict]:
    """Plain data: one entry per automation (name, match labels, target URLs)."""
    name = cfg.service.name
    specs = []
    if cfg.defaults.notify:
        specs.append({"name": f"{name}: notify all registries", "match": {"outcomes.instance": name},
                      "targets": list(cfg.defaults.notify)})
    for rid, reg in sorted(cfg.registries.items()):
        extra = [u for u in reg.notify if u not in cfg.defaults.notify]
        if extra:
            specs.append({"name": f"{name}: notify {rid}",
                          "match": {"outcomes.instance": name, "outcomes.registry": rid}, "targets": extra})
    return specs


def _save_webhook(url: str):
    from prefect.blocks.webhook import Webhook

    name = block_name(url)
    try:
        block = Webhook.load(name)
        if block.url.get_secret_value() == url:
            return block._block_document_id
    except ValueError:
        pass
    block = Webhook(method="POST", url=url, headers={"Content-Type": "application/json"},
                    allow_private_urls=True)
    return block.save(name, overwrite=True)


def ensure_automations(cfg: Config) -> list[str]:
    """Create or replace the automations; returns a line per automation for the log."""
    from prefect.automations import Automation
    from prefect.events.actions import CallWebhook
    from prefect.events.schemas.automations import EventTrigger, Posture

    from flows.events import ALERT, REJECTED

    lines = []
    for spec in automation_specs(cfg):
        actions = [CallWebhook(block_document_id=_save_webhook(u), payload=PAYLOAD_TEMPLATE) for u in spec["targets"]]
        trigger = EventTrigger(expect={REJECTED, ALERT}, match=spec["match"], posture=Posture.Reactive,
                               threshold=1)
        try:
            existing = Automation.read(name=spec["name"])
        except ValueError:
            existing = None
        if existing is not None:
            existing.delete()
        Automation(name=spec["name"], description="ketamine-outcomes: rejections and safety alerts",
                   trigger=trigger, actions=actions).create()
        lines.append(f"automation {spec['name']!r}: {len(actions)} webhook target(s)")
    return lines
