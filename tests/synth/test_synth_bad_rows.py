"""--bad-rows: every rule is injected, logged at the right line, and breaks only itself."""
from __future__ import annotations

import json
from collections import Counter

from synth import generate_registry
from synth.corrupt import rule_ids
from synth_checks import Validator, injected, manifests, read_lines

EXPECTED = {
    "patients": ["patient_id.required", "patient_id.unique", "birth_date.type", "sex.code",
                 "enrolled_on.required", "enrolled_on.type", "enrolled_on.not_future",
                 "trd_failed_trials.range"],
    "sessions": ["session_id.required", "session_id.unique", "patient_id.exists", "session_start.type",
                 "session_start.not_future", "session_start.after_enrolment", "drug.code", "route.code",
                 "route.esketamine_intranasal", "dose_mg.positive", "dose_mg.esketamine_strength",
                 "dose_mg_per_kg.iv_max", "weight_kg.range", "weight_kg.required_for_mg_per_kg",
                 "devices.esketamine_devices", "setting.code"],
    "vitals": ["session_id.exists", "timepoint.code", "minutes_after_dose.range", "sbp.range",
               "dbp.range", "sbp.above_dbp", "heart_rate.range", "spo2.range"],
    "assessments": ["assessment_id.unique", "patient_id.exists", "assessed_at.type", "assessed_at.not_future",
                    "instrument.code", "total_score.range", "total_score.type", "item_scores.sum",
                    "item_scores.format"],
    "adverse_events": ["ae_id.unique", "patient_id.exists", "onset_date.after_first_session", "term.length",
                       "meddra_code.format", "severity.code", "serious.criteria", "resolved_date.after_onset"],
    "labs": ["lab_id.required", "patient_id.exists", "value.non_negative", "collected_on.type"],
}
ALL_RULES = {f"{t}.{r}" for t, rs in EXPECTED.items() for r in rs} | {f"{t}.row.malformed" for t in EXPECTED}


def test_every_rule_is_injected(bad_registry):
    assert set(rule_ids("csv")) == ALL_RULES
    logged = set(injected(bad_registry).values())
    assert logged == ALL_RULES


def test_each_logged_line_breaks_exactly_its_rule(bad_registry):
    log = injected(bad_registry)
    v = Validator()
    checked = Counter()
    for m in manifests(bad_registry):
        for (table, line), found in v.check_export(m).items():
            rule = log.get((m["export_id"], table, line))
            if rule is None:
                assert not found, (m["export_id"], table, line, found)
            else:
                assert found == {rule}, (m["export_id"], table, line, rule, found)
                checked[rule] += 1
    assert set(checked) == ALL_RULES
    assert sum(checked.values()) == len(log)


def test_bad_values_at_logged_lines(bad_registry):
    """Spot checks by parsing the logged lines themselves."""
    log = injected(bad_registry)
    ms = {m["export_id"]: m for m in manifests(bad_registry)}
    lines = {}
    for (eid, table, line), rule in log.items():
        key = (eid, table)
        if key not in lines:
            lines[key] = dict(read_lines(ms[eid]["_folder"] / f"{table}.csv"))
        fields = lines[key][line]
        if rule == "adverse_events.term.length":
            assert len(fields[4]) > 200
        elif rule == "labs.value.non_negative":
            assert float(fields[4]) < 0
        elif rule == "vitals.sbp.above_dbp":
            assert int(fields[3]) <= int(fields[4])
        elif rule.endswith(".row.malformed"):
            header = (ms[eid]["_folder"] / f"{table}.csv").read_text().split("\n", 1)[0].split(",")
            assert len(fields) != len(header)


def test_bad_share_is_roughly_the_fraction(bad_registry):
    log = Counter((eid, t) for eid, t, _ in injected(bad_registry))
    for m in manifests(bad_registry):
        for f in m["files"]:
            if f["rows"] > 1000:
                assert 0.10 < log[(m["export_id"], f["table"])] / f["rows"] < 0.20


def test_parquet_bad_rows(tmp_path):
    generate_registry(tmp_path, "pq-reg", 200, seed=9, months=3, file_format="parquet", bad_rows=0.2)
    log = injected(tmp_path)
    assert set(log.values()) == set(rule_ids("parquet")) == {r for r in ALL_RULES if not r.endswith("malformed")}
    v = Validator()
    for m in manifests(tmp_path):
        for (table, line), found in v.check_export(m).items():
            rule = log.get((m["export_id"], table, line))
            assert found == (set() if rule is None else {rule})


def test_log_records_are_complete(bad_registry):
    ms = {m["export_id"]: m for m in manifests(bad_registry)}
    files = {}
    for line in (bad_registry / "_injected.jsonl").read_text().splitlines():
        rec = json.loads(line)
        assert list(rec)[:4] == ["export_id", "table", "line", "rule"]
        assert rec["line"] >= 2
        if rec["rule"].endswith(".unique"):
            # the first occurrence is a valid fresh copy of a real row, logged as first_line
            key = (rec["export_id"], rec["table"])
            if key not in files:
                files[key] = dict(read_lines(ms[rec["export_id"]]["_folder"] / f"{rec['table']}.csv"))
            assert rec["first_line"] < rec["line"]
            assert files[key][rec["first_line"]] == files[key][rec["line"]]
        else:
            assert set(rec) == {"export_id", "table", "line", "rule"}


def test_injected_rules_are_error_level_in_the_suites():
    """A bad row must be quarantined: an alert- or warning-level rule loads the row (with a flag)."""
    import glob
    from pathlib import Path

    import synth

    suites = Path(synth.__file__).resolve().parents[1] / "expectations" / "suites"
    severity = {e["meta"]["rule"]: e["meta"]["severity"]
                for f in sorted(glob.glob(str(suites / "*.json")))
                for e in json.loads(Path(f).read_text())["expectations"]}
    for rule in rule_ids("csv"):
        if not rule.endswith(".row.malformed"):  # recorded by the reader, not a suite
            assert severity.get(rule) == "error", (rule, severity.get(rule))
