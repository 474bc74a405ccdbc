"""Full, incremental, corrections and withdrawals across the export series."""
from __future__ import annotations

from synth_checks import manifests, read_rows

ID = {"patients": "patient_id", "sessions": "session_id", "assessments": "assessment_id",
      "adverse_events": "ae_id", "labs": "lab_id"}


def _rows(m, table):
    f = next(f for f in m["files"] if f["table"] == table)
    return read_rows(m["_folder"] / f["path"], table)


def _strip(row):
    return {k: v for k, v in row.items() if k != "_line"}


def test_incrementals_hold_new_or_changed_records(clean_registry):
    ms = manifests(clean_registry)
    resent = {t: 0 for t in ID}
    for table, key in ID.items():
        latest = {}
        for m in ms[:-1]:
            for row in _rows(m, table):
                r = _strip(row)
                if r[key] in latest:
                    assert m["mode"] == "incremental"
                    assert latest[r[key]] != r, f"{table} {r[key]} re-sent unchanged"
                    resent[table] += 1
                latest[r[key]] = r
    assert resent["assessments"] > 0 and resent["adverse_events"] > 0 and resent["labs"] > 0
    assert resent["patients"] == resent["sessions"] == 0


def test_last_full_export_is_latest_state_minus_withdrawals(clean_registry):
    ms = manifests(clean_registry)
    final = {t: {r[k]: _strip(r) for r in _rows(ms[-1], t)} for t, k in ID.items()}
    before_last = ms[-2]["exported_at"]
    withdrawn_patients = set()
    for table, key in ID.items():
        latest, sent_in = {}, {}
        for k, m in enumerate(ms[:-1]):
            for row in _rows(m, table):
                latest[row[key]] = _strip(row)
                sent_in[row[key]] = k
        missing = set(latest) - set(final[table])
        if table == "patients":
            withdrawn_patients = missing
            assert withdrawn_patients, "expected some withdrawn patients"
        else:
            # withdrawn: rows of withdrawn patients, or (assessments only) single records
            others = {i for i in missing if latest[i]["patient_id"] not in withdrawn_patients}
            if table == "assessments":
                assert all(latest[i]["session_id"] == "" for i in others)
            else:
                assert not others, (table, sorted(others)[:3])
        assert not any(r["patient_id"] in withdrawn_patients for r in final[table].values() if "patient_id" in r)
        # what the last full export carries that was already sent is the latest version, except
        # corrections of records sent in the export before it and AEs resolved since
        changed = [i for i, r in final[table].items() if i in latest and latest[i] != r]
        for i in changed:
            assert sent_in[i] == len(ms) - 2 or table == "adverse_events", (table, i)
    sent = {x["session_id"] for m in ms[:-1] for x in _rows(m, "sessions")}
    new_sessions = [r for i, r in final["sessions"].items() if i not in sent]
    assert new_sessions and all(r["session_start"] > before_last for r in new_sessions)


def test_nothing_is_in_the_future(clean_registry):
    for m in manifests(clean_registry):
        at = m["exported_at"]
        assert all(r["session_start"] <= at for r in _rows(m, "sessions"))
        assert all(r["assessed_at"] <= at for r in _rows(m, "assessments"))
        assert all(r["enrolled_on"] <= at[:10] for r in _rows(m, "patients"))
        assert all(r["resolved_date"] <= at[:10] for r in _rows(m, "adverse_events") if r["resolved_date"])
