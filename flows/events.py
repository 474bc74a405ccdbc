"""Prefect events in and out: `registry.export.landed` (the watcher), and `outcomes.export.loaded`,
`outcomes.export.rejected`, `outcomes.export.duplicate` and `outcomes.safety.alert` (ingest).

Events name the registry, the export and the alert rule; they never carry a patient identifier, a
patient key, a record id or a row value. `build_*` functions are plain and unit-tested; `emit_*`
send through Prefect's events client (PREFECT_API_URL); outcome events go through the outbox
(flows/outbox.py), which sends them at least once.
"""
from __future__ import annotations

LANDED = "registry.export.landed"
LOADED = "outcomes.export.loaded"
REJECTED = "outcomes.export.rejected"
DUPLICATE = "outcomes.export.duplicate"
ALERT = "outcomes.safety.alert"

# Contract section 3 alert rules (expectations/catalogue.py ids) and what people call them.
ALERT_RULES = {
    "vitals.sbp.post_dose_high": "notable blood pressure rise (post-dose SBP >= 180)",
    "vitals.dbp.post_dose_high": "notable blood pressure rise (post-dose DBP >= 110)",
    "vitals.sbp.rise_over_pre": "notable blood pressure rise (SBP +40 over pre-dose)",
    "vitals.dbp.rise_over_pre": "notable blood pressure rise (DBP +25 over pre-dose)",
    "vitals.spo2.low": "SpO2 < 92",
    "assessments.moaas.unresponsive": "loss of consciousness (MOAA/S 0)",
    "assessments.phq9_item9.positive": "PHQ-9 item 9 >= 1",
    "assessments.cssrs.ideation_high": "C-SSRS ideation >= 4",
    "adverse_events.serious.sae": "serious adverse event",
    "labs.value.hepatic_3x_uln": "ALT/AST >= 3x ULN",
    "sessions.setting.esketamine_home": "esketamine at home (REMS)",
    "sessions.monitoring_minutes.rems_minimum": "esketamine monitoring < 120 min (REMS)",
}
ALERT_CATEGORY = {
    "vitals.sbp.post_dose_high": "blood_pressure", "vitals.dbp.post_dose_high": "blood_pressure",
    "vitals.sbp.rise_over_pre": "blood_pressure", "vitals.dbp.rise_over_pre": "blood_pressure",
    "vitals.spo2.low": "spo2", "assessments.moaas.unresponsive": "loss_of_consciousness",
    "assessments.phq9_item9.positive": "suicidality", "assessments.cssrs.ideation_high": "suicidality",
    "adverse_events.serious.sae": "serious_adverse_event", "labs.value.hepatic_3x_uln": "hepatic",
    "sessions.setting.esketamine_home": "rems", "sessions.monitoring_minutes.rems_minimum": "rems",
}


def export_resource(registry_id: str | None, export_id: str | None, instance: str, location: str | None = None) -> dict:
    reg, exp = registry_id or "unknown", export_id or "unknown"
    res = {
        "prefect.resource.id": f"outcomes.export.{reg}.{exp}",
        "prefect.resource.name": f"{reg}/{exp}",
        "outcomes.instance": instance,
        "outcomes.registry": reg,
        "outcomes.export": exp,
    }
    if location is not None:
        res["outcomes.export.location"] = str(location)
    return res


def build_landed(check, instance: str) -> dict:
    return {
        "event": LANDED,
        "resource": export_resource(check.registry_id, check.export_id, instance, str(check.path)),
        "payload": {"registry": check.registry_id or "unknown", "export_id": check.export_id,
                    "exported_at": check.exported_at, "location": str(check.path), "state": check.state},
    }


def build_outcome_events(result: dict, alert_counts: list[tuple[str, str, int]], instance: str) -> list[dict]:
    """Events for one ingest result. alert_counts: (rule, table, rows) from ops.alerts for its load."""
    reg, exp = result.get("registry_id"), result.get("export_id")
    resource = export_resource(reg, exp, instance)
    base = {"registry": reg or "unknown", "export_id": exp, "load_id": result.get("load_id"),
            "exported_at": result.get("exported_at")}
    status = result.get("status")
    out = []
    if status == "loaded":
        rows = {t: c.get("loaded", 0) for t, c in (result.get("tables") or {}).items()}
        quarantined = {t: c.get("quarantined", 0) for t, c in (result.get("tables") or {}).items()}
        out.append({"event": LOADED, "resource": resource,
                    "payload": {**base, "rows": rows, "quarantined": quarantined}})
    elif status == "rejected":
        out.append({"event": REJECTED, "resource": resource, "payload": {**base, "reason": result.get("reason")}})
    elif status == "duplicate":
        out.append({"event": DUPLICATE, "resource": resource, "payload": {**base, "reason": result.get("reason")}})
    for rule, table, rows in alert_counts:
        out.append({
            "event": ALERT,
            "resource": {**resource, "prefect.resource.id": f"outcomes.export.{reg or 'unknown'}.{exp or 'unknown'}",
                         "outcomes.rule": rule},
            "payload": {**base, "rule": rule, "table": table, "rows": int(rows),
                        "category": ALERT_CATEGORY.get(rule, "other"),
                        "description": ALERT_RULES.get(rule, rule)},
        })
    return out


def emit(events: list[dict]) -> None:
    from prefect.events import emit_event

    for e in events:
        emit_event(event=e["event"], resource=e["resource"], payload=e.get("payload"))


def emit_landed(check, instance: str) -> None:
    emit([build_landed(check, instance)])
