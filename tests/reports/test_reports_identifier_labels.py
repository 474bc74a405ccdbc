"""What a report prints as a label (a site id, a preferred term) is data the registry typed: one
that holds what the ingest's identifier pattern finds is never printed (privacy review, session 10:
a site '10.44.55.66' and an SAE term 'Nausea 10.20.30.99' were printed as sent)."""
from __future__ import annotations

from datetime import date

import pandas as pd

from reports.content import site_labels
from tests.reports.test_reports_marts_review import _ae, _patients_with, _report, _warehouse


def test_a_site_id_holding_an_identifier_is_site_n():
    sites = pd.DataFrame({"registry_id": ["r"] * 4, "site_id": ["north", "10.44.55.66", "MRN-4455667", "611223344"]})
    labels = site_labels(sites)
    assert labels[("r", "north")] == "north"
    assert {labels[("r", s)] for s in ("10.44.55.66", "MRN-4455667", "611223344")} == {"site 1", "site 2", "site 3"}


def test_a_preferred_term_holding_an_identifier_is_withheld_in_every_mart(tmp_path):
    pats, sess = _patients_with({f"P{i}": [date(2025, 3, 3), date(2025, 3, 10)] for i in range(14)})
    aes = [_ae(f"P{i}", 0, date(2025, 3, 4), "Nausea 10.20.30.99", serious=True, hospitalization=True)
           for i in range(12)] + [_ae("P12", 0, date(2025, 3, 4), "Headache"),
                                  _ae("P13", 0, date(2025, 3, 4), "Dizziness ann@plant.example")]
    path = _warehouse(tmp_path / "w.duckdb", {"patients": pats, "sessions": sess, "adverse_events": aes})
    con = _report(path, "2025-03")
    try:
        terms = {t for (t,) in con.execute("SELECT DISTINCT term FROM marts.ae_rates WHERE level = 'pt'").fetchall()}
        sae = {t for (t,) in con.execute("SELECT DISTINCT meddra_pt FROM marts.sae_listing").fetchall()}
        withheld = con.execute("SELECT events FROM marts.ae_rates WHERE level = 'pt' AND term = 'Withheld term' "
                               "AND drug = 'all' AND period = 'cumulative' AND registry_id = 'reg-a'").fetchall()
    finally:
        con.close()
    assert terms == {"Headache", "Withheld term"} and sae == {"Withheld term"}
    assert withheld == [(13,)]  # the events still count, under the one neutral term
