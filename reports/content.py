"""What the report says: reads the marts for one month and registry, fills a Book of figures and
the sections' tables and chart series. No HTML here (render.py), no statistics (stats.py) and no SQL
(warehouse/sql/report/*.sql, run by Content.q).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import re

import duckdb
import pandas as pd

from reports import charts
from reports.figures import Book, Table
from reports.ledger import derivable
from transforms import sqlfiles
from transforms.redaction import has_identifier

INSTRUMENTS = {"PHQ9": "PHQ-9", "MADRS": "MADRS", "QIDS_SR16": "QIDS-SR16", "HAMD17": "HAM-D17"}
WEEKS = (1, 2, 4, 8, 12, 26, 52)


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    tables: list[Table] = field(default_factory=list)
    charts: list = field(default_factory=list)   # callables producing SVG after suppression


def _grp(drug, route):
    return "all groups" if drug == "all" else f"{drug} {route}"


EXPOSURE_ALL = ("exposure", "all", "all")  # + (period,): the 'all groups' exposure cell
EFF_PAIRS = [("n", "responders"), ("n", "remitters"), ("n", "remitters_alt"),  # non-responders etc. are counts too
             ("n_followed", "responders_followed"),
             # responders (shown) minus responders followed (rate 'missing = non-response' x its n): a
             # count either way round (which is larger depends on the week), so both orders
             ("responders", "responders_followed"), ("responders_followed", "responders")]
# A term cell counts patients without the event itself ('patients_without_event' = exposed minus with
# event): the exposed patients and sessions are the treatment group's AE denominator cell (below).
AE_PAIRS = [("patients_with_event", "new_patients")]
# The counts of a term cell that a month's row has among its cumulative row's (a subset, _nest); a flag
# cell's likewise (units and patients flagged, units not flagged: a unit is flagged or not once; not
# patients not flagged: one not flagged in the month may have been before).
AE_NESTED = ("patients_with_event", "events", "new_patients")
# The counts of a preferred term's (label group's) cell that are some of its label group's ('any's).
AE_IN_TERMS = ("patients_with_event", "events")
LAB_SIGNAL = "ALT/AST >= 3x ULN (labs)"  # the one signal not made of adverse events (int_ae.sql)
FLAG_NESTED = ("flagged", "units_not_flagged", "patients_flagged")
# A flag measure's cell counts the units and patients not flagged itself (as AE term cells count
# patients without the event): the units and patients evaluable are a cell per (domain, evaluable_on,
# group, period), shared by the measures evaluated on the same units (_flag_table). NESTED: per
# domain, (outer, inner) evaluable_on whose units are some of the outer's (sessions with a pre- and
# a post-dose BP are some of those with a pre-dose one and some of those with a post-dose one), so
# that their difference is protected as a count (_nest).
NESTED = {"blood_pressure": [("pre-dose BP", "pre- and post-dose BP"), ("post-dose BP", "pre- and post-dose BP")]}

# A site id is printed only if it looks like a code (no spaces, '@' or free text) and holds nothing
# the ingest's identifier pattern finds (an IP address, an MRN, a 9-digit number); else 'site N'.
SITE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")


def site_labels(sites: pd.DataFrame) -> dict[tuple, str]:
    """(registry, site_id) -> the label printed: the id when it matches SITE_CODE, else 'site N' (N its
    rank among the registry's sites, by id), so free text in site_id never reaches the report."""
    out = {}
    for reg, g in sites.groupby("registry_id", sort=False):
        for i, sid in enumerate(sorted(g.site_id.astype(str)), 1):
            out[(reg, sid)] = sid if SITE_CODE.fullmatch(sid) and not has_identifier(sid) else f"site {i}"
    return out  # no clash: a code has no space, a neutral label has one


def _estimate(fig):
    """A Kaplan-Meier estimate as shown: '—' when not estimated (NaN: too few at risk, or no one
    followed that long; stats.estimable); figures.csv keeps the row with an empty value."""
    v = fig.value
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    return fig


@dataclass
class Guarded:
    """A row label that is printed only if one of the row's numbers is: when all of them are
    suppressed it becomes `neutral` (in the HTML and in the figures' strata), so a label that may
    carry free text (a term) says nothing about a hidden small count."""
    text: str
    figs: list
    neutral: str
    field: str = "term"
    zero_is_silent: bool = False  # a shown 0 beside hidden counts says nothing: neutral label too

    def resolve(self) -> str:
        if self.figs and all(f.suppressed or (self.zero_is_silent and not f.value) for f in self.figs):
            for f in self.figs:
                f.stratum = f.stratum.replace(f"{self.field}={self.text};", f"{self.field}={self.neutral};", 1)
            return self.neutral
        return self.text


class Content:
    def __init__(self, con: duckdb.DuckDBPyConnection, month: str, registry: str | None, published=None):
        """published: the counts earlier reports showed (reports.ledger.Published); none: compare with nothing."""
        self.con, self.month, self.reg = con, month, registry or "all"
        self.published = published or {}
        self.book = Book()
        self.sections: list[Section] = []
        self._ae_den: dict | None = None

    def q(self, name: str, params=(), **identifiers: str) -> pd.DataFrame:
        """Run warehouse/sql/report/<name>.sql: values as bound parameters, identifiers checked (sqlfiles)."""
        return sqlfiles.run(self.con, "warehouse", f"report/{name}.sql", list(params), **identifiers).df()

    # -- helpers ---------------------------------------------------------------------------
    def count(self, sec, measure, stratum, n, cell_key=None, groups=()):
        key = cell_key or (sec, measure, stratum)
        self.book.cell(key, {"n": n}, groups)
        return self.book.add(sec, measure, stratum, n, n, cell=key, kind="count")

    def rate(self, sec, measure, stratum, n, value, ci, cell_key, kind="pct"):
        return self.book.add(sec, measure, stratum, n, value, ci, cell=cell_key, kind=kind)

    def build(self) -> list[Section]:
        for f in (self.summary, self.exposure, self.efficacy, self.comparisons, self.safety, self.long_term,
                  self.data_quality):
            f()
        # cells an earlier report would let one derive are hidden first, so complementary suppression
        # protects them like any small count (reports.ledger)
        self.book.apply(derivable(self.book.cells.values(), self.reg, self.published, self.book.aliases))
        for s in self.sections:
            for t in s.tables:
                t.rows = [[x.resolve() if isinstance(x, Guarded) else x for x in row] for row in t.rows]
        return self.sections

    def has_data(self) -> bool:
        return bool(self.q("exposure_has_month", [self.reg, self.month])["c"][0])

    # -- sections --------------------------------------------------------------------------
    def summary(self):
        s = Section("summary", "Summary", f"Registry: {self.reg}. Month: {self.month}. 'In month' counts what "
                    f"happened in {self.month}; 'cumulative' everything up to its end.")
        t = Table("Key figures", ["Measure", "In month", "Cumulative"])
        ex = self.q("exposure_key_figures", [self.reg, self.month]).set_index("period")
        # The same numbers as the exposure table's 'all groups' rows: the same cells (EXPOSURE_ALL),
        # so a cell hidden there is hidden here too.
        for p in (self.month, "cumulative"):
            self.book.cell(EXPOSURE_ALL + (p,), {"patients": ex["patients"].get(p, 0), "sessions": ex["sessions"].get(p, 0)})
        for col, label in (("patients", "Patients treated"), ("sessions", "Treatment sessions")):
            t.rows.append([label] + [self.book.add("summary", col, f"period={p}", ex[col].get(p, 0), ex[col].get(p, 0),
                                                   cell=EXPOSURE_ALL + (p,)) for p in (self.month, "cumulative")])
        py = []
        for p in (self.month, "cumulative"):
            py.append(self.rate("summary", "patient_years", f"period={p}", ex["patients"].get(p, 0),
                                ex["patient_years"].get(p, 0), (None, None), EXPOSURE_ALL + (p,), kind="py"))
        t.rows.append(["Patient-years of exposure"] + py)
        ae = self.q("ae_rates_any_key_figures", [self.reg, self.month]).set_index("period")
        row = ["Adverse events per 100 sessions (exact CI)"]
        for p in (self.month, "cumulative"):
            if p in ae.index:
                r = ae.loc[p]
                k = self.book.cell(("safety", "any", "Any adverse event", "all", "all", p),  # the safety table's cell
                                   {"events": r.events})
                # n is the sessions of all groups: the denominator cell, hidden with it
                row.append(self.book.add("summary", "ae_per_100_sessions", f"period={p}", r.sessions, r.per_100_sessions,
                                         (r.lo, r.hi), cell=k, kind="rate", deps=self._ae_den_keys(("all", "all", p))))
            else:
                row.append("–")
        t.rows.append(row)
        rr = self.q("response_rates_phq9_week4", [self.reg])
        if not rr.empty:
            r = rr.iloc[0]
            k = self.book.cell(("eff", "PHQ9", "all", "all", 4), {"n": r.patients_evaluable, "responders": r.responders},
                               pairs=EFF_PAIRS)  # the efficacy table's cell
            t.rows.append(["PHQ-9 response at week 4 (Wilson CI)", "–",
                           self.rate("summary", "phq9_response_week4", "period=cumulative", r.patients_evaluable,
                                     r.response_rate, (r.response_ci_low, r.response_ci_high), k)])
        s.tables.append(t)
        self.sections.append(s)

    def exposure(self):
        s = Section("exposure", "Exposure", "Drug and route are those of each session; patient-years attribute to each "
                    "session the days to the next session (at most 28) or 7 days after the last.")
        df = self.q("exposure_by_route", [self.reg, self.month])
        t = Table("By drug and route", ["Drug / route", "Patients (month)", "Sessions (month)", "Patient-years (month)",
                                         "Patients (cumulative)", "Sessions (cumulative)", "Patient-years (cumulative)"])
        for (drug, route), g in df.groupby(["drug", "route"], sort=False):
            row = [_grp(drug, route)]
            for p in (self.month, "cumulative"):
                r = g[g.period == p]
                pts = int(r.patients.iloc[0]) if len(r) else 0
                ses = int(r.sessions.iloc[0]) if len(r) else 0
                py = float(r.patient_years.iloc[0]) if len(r) else 0.0
                # routes add up to 'all groups' in sessions; in patients they do not (drug and route are
                # each session's: a patient treated IV and intranasally is in both rows), but each
                # route's patients are some of all patients (nested below)
                gid = ("exposure-route", p)
                role = "total" if drug == "all" else "part"
                key = self.book.cell(("exposure", drug, route, p), {"patients": pts, "sessions": ses},
                                     [(str(gid), role, ("sessions",))])
                st = f"group={_grp(drug, route)}; period={p}"
                row += [self.book.add("exposure", "patients", st, pts, pts, cell=key),
                        self.book.add("exposure", "sessions", st, ses, ses, cell=key),
                        self.book.add("exposure", "patient_years", st, pts, py, cell=key, kind="py")]
            t.rows.append(row)
        for drug, route in df[df.drug != "all"][["drug", "route"]].drop_duplicates().itertuples(index=False):
            for p in (self.month, "cumulative"):
                self._nest(EXPOSURE_ALL + (p,), ("exposure", drug, route, p), ("patients",))
        s.tables.append(t)
        for dim, title in (("dose_band", "By dose band (cumulative)"), ("phase", "By phase (cumulative)")):
            d = self.q("exposure_by_band_or_phase", [self.reg], dim=dim,
                       other="phase" if dim == "dose_band" else "dose_band")
            tt = Table(title, ["Drug / route", dim.replace("_", " "), "Patients", "Sessions", "Patient-years"])
            for r in d.itertuples():
                st = f"group={_grp(r.drug, r.route)}; {dim}={r.v}; period=cumulative"
                # bands (phases) of a route add up to the route's cumulative row in sessions: one additive
                # group; in patients they do not (a patient dosed at 56 and at 84 mg is in both), but each
                # band's patients are some of the route's (nested below: 155 - 152 = 3 never dosed at 56 mg)
                gid = f"exposure-{dim}-{r.drug} {r.route}"
                self.book.cell(("exposure", r.drug, r.route, "cumulative"), {}, [(gid, "total", ("sessions",))])
                key = self.book.cell(("exposure", dim, r.drug, r.route, r.v), {"patients": r.patients, "sessions": r.sessions},
                                     [(gid, "part", ("sessions",))])
                self._nest(("exposure", r.drug, r.route, "cumulative"), key, ("patients",))
                tt.rows.append([_grp(r.drug, r.route), r.v, self.book.add("exposure", "patients", st, r.patients, r.patients, cell=key),
                                self.book.add("exposure", "sessions", st, r.sessions, r.sessions, cell=key),
                                self.book.add("exposure", "patient_years", st, r.patients, r.patient_years, cell=key, kind="py")])
            s.tables.append(tt)
        sites = self.q("exposure_by_site", [self.reg, self.reg])
        ts = Table("By site (cumulative)", ["Registry", "Site", "Patients", "Sessions"])
        labels = site_labels(sites)
        for r in sites.itertuples():
            key = self.book.cell(("exposure", "site", r.registry_id, r.site_id), {"patients": r.patients, "sessions": r.sessions},
                                 [(f"sites-{r.registry_id}", "part")])
            site = labels[(r.registry_id, r.site_id)]
            st = f"registry={r.registry_id}; site={site}; period=cumulative"
            ts.rows.append([r.registry_id, site, self.book.add("exposure", "patients", st, r.patients, r.patients, cell=key),
                            self.book.add("exposure", "sessions", st, r.sessions, r.sessions, cell=key)])
        for reg in sites.registry_id.unique():
            tot = self.q("exposure_registry_total", [reg])
            if len(tot):
                # A one-registry report shows this total as its 'all groups' row (the same cell); in the
                # all-registries report the registry totals add up to that row.
                tkey = EXPOSURE_ALL + ("cumulative",) if self.reg == reg else ("exposure-total", reg)
                self.book.cell(tkey, {"patients": tot.patients[0], "sessions": tot.sessions[0]}, [(f"sites-{reg}", "total")])
                if self.reg == "all":
                    self.book.cell(tkey, {}, [("registries-cumulative", "part")])
                    self.book.cell(EXPOSURE_ALL + ("cumulative",), {}, [("registries-cumulative", "total")])
                if self.reg == "all":  # registry totals are shown in the all-registries report
                    st = f"registry={reg}; site=all; period=cumulative"
                    k = ("exposure-total", reg)
                    # the registry's own report shows this count as its 'all groups' row
                    self.book.aliases[k] = [(reg, EXPOSURE_ALL + ("cumulative",))]
                    ts.rows.append([reg, "all sites", self.book.add("exposure", "patients", st, tot.patients[0], tot.patients[0], cell=k),
                                    self.book.add("exposure", "sessions", st, tot.sessions[0], tot.sessions[0], cell=k)])
        s.tables.append(ts)
        monthly = self.q("exposure_monthly_sessions", [self.reg, self.month])
        figs = []
        for r in monthly.itertuples():
            # the months of a group add up to its cumulative row (sessions; patients do not add up)
            gid = f"exposure-months-{r.grp}"
            self.book.cell(("exposure", r.drug, r.route, "cumulative"), {}, [(gid, "total", ("sessions",))])
            key = self.book.cell(("exposure", r.drug, r.route, r.period), {"sessions": r.sessions, "patients": r.patients},
                                 [(f"exposure-month-{r.period}", "part"), (gid, "part", ("sessions",))])
            figs.append((r.period, r.grp, self.book.add("exposure", "sessions", f"group={r.grp}; period={r.period}",
                                                         r.sessions, r.sessions, cell=key)))
        s.charts.append(lambda figs=figs: charts.monthly_bars(figs, "Sessions per month by drug and route"))
        # A month's patients and sessions are some of the cumulative ones of the same group, and both are
        # shown: the difference (patients treated before the month only) is a count (s8b review: 156 of
        # 161 patients, 5 treated in January only). Earlier months show their sessions only (the chart).
        for r in df[df.period == self.month].drop_duplicates(["drug", "route"]).itertuples():
            self._nest(("exposure", r.drug, r.route, "cumulative"), ("exposure", r.drug, r.route, self.month))
        for r in monthly[monthly.period != self.month].itertuples():
            self._nest(("exposure", r.drug, r.route, "cumulative"), ("exposure", r.drug, r.route, r.period),
                       ("sessions",))
        self.sections.append(s)

    def efficacy(self):
        s = Section("efficacy", "Efficacy", "Cumulative, by treatment group (drug and route of the first session). "
                    "Response = score at most 50 % of baseline; 95 % Wilson intervals. These are observed cases, not "
                    "intention-to-treat: a rate at week w counts only patients with a score that week, and patients who "
                    "stopped (mostly those not responding after induction) are not counted as non-responders, so later "
                    "weeks look better than they are. The column 'missing = non-response' counts every patient with a "
                    "baseline whose week-w window had ended before the data cut-off, those without a responding score as "
                    "non-responders. Route-by-week tables are unadjusted: groups differ in who receives them.")
        rr = self.q("response_rates", [self.reg])
        for inst, label in INSTRUMENTS.items():
            d = rr[rr.instrument == inst]
            if d.empty:
                continue
            alt = inst == "MADRS"
            cols = ["Group", "Week", "Evaluable", "Responders", "Response % (CI)", "Remitters", "Remission % (CI)"]
            cols += ["Remitters MADRS<=12", "Remission <=12 % (CI)"] if alt else []
            cols += ["Mean score (CI)", "Followed to week", "Response, missing = non-response % (CI)"]
            t = Table(f"{label}: response and remission by group and week",
                      cols, note=f"Remission: {d.remission_definition.iloc[0]}" + ("; also MADRS <= 12 (esketamine phase 3)" if alt else ""))
            traj, resp = [], []
            for r in d.itertuples():
                grp = _grp(r.drug, r.route)
                st = f"instrument={inst}; group={grp}; week={r.week}"
                counts = {"n": r.patients_evaluable, "responders": r.responders, "remitters": r.remitters,
                          "n_followed": r.patients_followed, "responders_followed": r.responders_followed}
                if alt:
                    counts["remitters_alt"] = r.remitters_alt
                key = self.book.cell(("eff", inst, r.drug, r.route, int(r.week)), counts,
                                     [(f"eff-{inst}-{r.week}", "total" if r.drug == "all" else "part")], EFF_PAIRS)
                row = [grp, str(r.week),
                       self.book.add("efficacy", "patients_evaluable", st, r.patients_evaluable, r.patients_evaluable, cell=key),
                       self.book.add("efficacy", "responders", st, r.patients_evaluable, r.responders, cell=key),
                       self.book.add("efficacy", "response_rate", st, r.patients_evaluable, r.response_rate,
                                     (r.response_ci_low, r.response_ci_high), cell=key, kind="pct"),
                       self.book.add("efficacy", "remitters", st, r.patients_evaluable, r.remitters, cell=key),
                       self.book.add("efficacy", "remission_rate", st, r.patients_evaluable, r.remission_rate,
                                     (r.remission_ci_low, r.remission_ci_high), cell=key, kind="pct")]
                if alt:
                    row += [self.book.add("efficacy", "remitters_madrs_le12", st, r.patients_evaluable, r.remitters_alt, cell=key),
                            self.book.add("efficacy", "remission_rate_madrs_le12", st, r.patients_evaluable, r.remission_alt_rate,
                                          (r.remission_alt_ci_low, r.remission_alt_ci_high), cell=key, kind="pct")]
                ms = self.book.add("efficacy", "mean_score", st, r.patients_evaluable, r.mean_score,
                                   (r.mean_score_ci_low, r.mean_score_ci_high), cell=key, kind="score")
                row.append(ms)
                row += [self.book.add("efficacy", "patients_followed", st, r.patients_followed, r.patients_followed, cell=key),
                        self.book.add("efficacy", "response_rate_missing_as_nonresponse", st, r.patients_followed,
                                      r.response_followed_rate, (r.response_followed_ci_low, r.response_followed_ci_high),
                                      cell=key, kind="pct")]
                t.rows.append(row)
                traj.append((grp, r.week, ms))
                resp.append((grp, r.week, row[4]))
            s.tables.append(t)
            # The patients followed to a later week are some of those followed to an earlier one (a
            # later window ends later: int_followup), so every two weeks' difference is a count (those
            # whose follow-up ended between them): nested, each pair, since with week 2 hidden the
            # difference of weeks 1 and 4 would still be shown.
            for (drug, route), g in d.groupby(["drug", "route"], sort=False):
                weeks = sorted(int(w) for w in g.week)
                for i, w1 in enumerate(weeks):
                    for w2 in weeks[i + 1:]:
                        self._nest(("eff", inst, drug, route, w1), ("eff", inst, drug, route, w2), ("n_followed",))
            s.charts.append(lambda traj=traj, label=label: charts.trajectories(traj, f"{label}: mean score by week (95 % CI)", "score"))
            s.charts.append(lambda resp=resp, label=label: charts.trajectories(resp, f"{label}: response rate by week (95 % CI)", "pct"))
        km = self.q("km_summary", [self.reg])
        t = Table("Time to first response (Kaplan-Meier) and relapse after response",
                  ["Outcome", "Instrument", "Group", "Patients", "Events", "Median days (CI)",
                   "By 24 h % (CI)", "By day 7 % (CI)", "By day 28 % (CI)", "By day 182 % (CI)"],
                  note="Relapse: two consecutive assessments above 50 % of baseline after a response (PROPOSED rule); "
                       "time from first response. — = not estimated: at that day (or at the median) 10 or fewer patients "
                       "were still at risk, or no patient's follow-up had reached it yet; medians are shown when reached. An estimate "
                       "is suppressed when 1 to 10 events had occurred by its day (the estimate times n would give them). "
                       "Censoring is likely informative (patients who do not respond tend to stop treatment and assessments), "
                       "so later estimates are probably optimistic.")
        km_cells = {}  # (drug, route) -> the PHQ-9 km cell: the chart draws a group's curve only if it is shown
        for r in km.itertuples():
            grp = _grp(r.drug, r.route)
            st = f"outcome={r.outcome}; instrument={r.instrument}; group={grp}"
            # response and relapse of a group share a cell: relapse n is the response events
            key = self.book.cell(("km", r.instrument, r.drug, r.route), {f"{r.outcome}_n": r.n, f"{r.outcome}_events": r.events},
                                 [(f"km-{r.instrument}", "total" if r.drug == "all" else "part")],
                                 [(f"{r.outcome}_n", f"{r.outcome}_events")])
            if r.instrument == "PHQ9":
                km_cells[(r.drug, r.route)] = key
            med = self.book.add("efficacy", f"km_{r.outcome}_median_days", st, r.n, r.median,
                                (r.median_ci_low, r.median_ci_high), cell=self._km_estimate(key, f"{r.outcome}-median", r.median,
                                                                                          getattr(r, "events_median", None)),
                                kind="days", deps=(key,))
            row = [r.outcome, INSTRUMENTS.get(r.instrument, r.instrument), grp,
                   self.book.add("efficacy", f"km_{r.outcome}_patients", st, r.n, r.n, cell=key),
                   self.book.add("efficacy", f"km_{r.outcome}_events", st, r.n, r.events, cell=key), _estimate(med)]
            for d in (1, 7, 28, 182):
                row.append(_estimate(self.book.add("efficacy", f"km_{r.outcome}_cum_incidence_day{d}", st, r.n,
                                                   getattr(r, f"cum_incidence_d{d}"),
                                                   (getattr(r, f"cum_incidence_d{d}_ci_low"), getattr(r, f"cum_incidence_d{d}_ci_high")),
                                                   cell=self._km_estimate(key, f"{r.outcome}-day{d}", getattr(r, f"cum_incidence_d{d}"),
                                                                          getattr(r, f"events_d{d}", None)),
                                                   kind="pct", deps=(key,))))
            t.rows.append(row)
        s.tables.append(t)
        curves = self.q("km_curves_phq9_response", [self.reg])
        # A curve gives away its group's n (the first step is 1/n) and its events: it is drawn only when
        # the group's km cell is shown (decided when the chart is drawn, after suppression), never for a
        # group without one.
        s.charts.append(lambda curves=curves, cells=km_cells: charts.km(
            self._shown_curves(curves, cells), "PHQ-9: time to first response (Kaplan-Meier, 95 % CI)"))
        self.sections.append(s)

    def _km_estimate(self, key, at, value, events) -> tuple:
        """The cell of one Kaplan-Meier estimate of the group cell `key` (which it hides with, as a dep):
        its events by that day (or by the median), which the estimate times n gives away where nobody
        was censored before (s8b review: 0.2 x 25 = 5 responders by day 7), so 1..10 hides it."""
        ok = not pd.isna(value) and not pd.isna(events)  # NaN, None or pd.NA (a NULL from DuckDB)
        return self.book.cell(("km-estimate", *key[1:], at), {"events": events} if ok else {})

    def _shown_curves(self, curves: pd.DataFrame, cells: dict) -> pd.DataFrame:
        """The rows of km_curves whose group's km cell exists and is not hidden (call after build)."""
        if curves is None or curves.empty:
            return curves
        shown = {g for g, k in cells.items() if k not in self.book.hidden}
        keep = [(d, r) in shown for d, r in zip(curves["drug"], curves["route"])]
        return curves[keep]

    def comparisons(self):
        s = Section("comparisons", "Route and dose-regimen comparisons",
                    "Risk differences against a reference group (esketamine intranasal when present), Newcombe 95 % CI. "
                    "Observational data: groups differ in who receives them; differences are not causal effects.")
        df = self.q("comparisons_week4_and_ae", [self.reg])
        t = Table("Comparisons", ["Comparison", "Measure", "Group", "Patients", "Rate (CI)", "Difference vs reference (CI)", "Reference"])
        for r in df.itertuples():
            st = f"comparison={r.comparison}; measure={r.measure}; group={r.group}"
            key = self._cmp_cell(r.comparison, r.measure, r.group, r.n, r.k)
            ref = self._cmp_cell(r.comparison, r.measure, r.reference, r.ref_n, r.ref_k)
            # n of a 'patients with event' row is the group's patients exposed: its AE denominator cell
            den = self._ae_den_keys(self._cmp_group(r.comparison, r.measure, r.group))
            t.rows.append([r.comparison, r.measure, r.group,
                           self.book.add("comparisons", "n", st, r.n, r.n, cell=den[0] if den else key),
                           self.book.add("comparisons", "rate", st, r.n, r.rate, cell=key, kind="pct", deps=den),
                           # the difference reveals the reference's rate too: hidden with either cell
                           self.book.add("comparisons", "risk_difference", st, r.n, r.difference, (r.ci_low, r.ci_high),
                                         cell=key, kind="pct", deps=(ref, *den)) if r.group != r.reference else "reference",
                           r.reference])
        s.tables.append(t)
        self.sections.append(s)

    def _cmp_cell(self, comparison, measure, group, n, k) -> tuple:
        """The cell of one comparison row. By route, the row shows a group's numbers from the efficacy or
        safety table, so it is that table's cell (hidden there = hidden here). By regimen, the regimens of a
        route add up to the route's efficacy row, and all regimens to 'all groups'."""
        m = re.fullmatch(r"(\S+) response at week (\d+)", measure)
        gid = f"cmp-{comparison}-{measure}"
        if comparison == "route" and m and " " in group:
            drug, route = group.split(" ", 1)
            return self.book.cell(("eff", m[1], drug, route, int(m[2])), {"n": n, "responders": k}, [(gid, "part")], EFF_PAIRS)
        if comparison == "route" and measure.endswith(": patients with event") and " " in group:
            drug, route = group.split(" ", 1)
            # n (patients exposed) is the group's AE denominator cell; this cell keeps n - k
            return self.book.cell(("safety", "label_group", measure[: -len(": patients with event")], drug, route, "cumulative"),
                                  {"patients_without_event": n - k, "patients_with_event": k}, [(gid, "part")], AE_PAIRS)
        groups = [(gid, "part")]
        if comparison == "regimen" and m and group.count(" ") >= 2:
            drug, route, _ = group.split(" ", 2)
            inst, week = m[1], int(m[2])
            self.book.cell(("eff", inst, drug, route, week), {}, [(f"{gid}-{drug} {route}", "total")])
            self.book.cell(("eff", inst, "all", "all", week), {}, [(gid, "total")])
            groups.append((f"{gid}-{drug} {route}", "part"))
        return self.book.cell(("cmp", comparison, measure, group), {"n": n, "responders": k}, groups, EFF_PAIRS)

    @staticmethod
    def _cmp_group(comparison, measure, group):
        """(drug, route, 'cumulative') of a route comparison's 'patients with event' row, else None."""
        if comparison == "route" and measure.endswith(": patients with event") and " " in group:
            return (*group.split(" ", 1), "cumulative")
        return None

    def _ae_den_keys(self, grp) -> tuple:
        """(key,) of the AE denominator cell of grp = (drug, route, period), () when there is none."""
        if grp is None:
            return ()
        k = self._ae_denominators().get(tuple(grp))
        return (k,) if k else ()

    def _ae_denominators(self) -> dict:
        """(drug, route, period) -> the key of the one cell of that treatment group's AE denominators
        (patients exposed, sessions), made on first use.

        Every AE and long-term row of a group, its route comparisons and the summary's AE rate show the
        same two numbers: one cell, so that complementary suppression and the ledger see them once
        (shown under each term's key, a reader took each group from some term's row and subtracted
        them from 'all groups', and a later report's value was compared with nothing). The cells of all
        treatment groups with exposure in a period (marts.ae_rates has a row for every group and term)
        form an additive group with 'all groups', which is the exposure table's 'all groups' cell (the
        same patients and sessions). A group's cell is tied to the exposure table's row of the same
        drug and route when their numbers are equal (no patient changed route): the same number,
        hidden together (a two-member additive group, per count)."""
        if self._ae_den is not None:
            return self._ae_den
        self._ae_den = {}
        den = self.q("ae_rates_denominators", [self.reg, self.month])
        if den.duplicated(["drug", "route", "period"]).any():
            raise ValueError("marts.ae_rates: a treatment group with two denominators in one period")
        ex = self.q("exposure_ae_denominators", [self.reg, self.month])
        exv = {(r.drug, r.route, r.period): {"patients": int(r.patients), "sessions": int(r.sessions)} for r in ex.itertuples()}
        for r in den.itertuples():
            counts = {"patients": int(r.patients_exposed), "sessions": int(r.sessions)}
            gid = f"ae-exposed-{r.period}"
            same = exv.get((r.drug, r.route, r.period))
            if r.drug == "all":
                if same == counts:  # always, unless the marts disagree: the exposure table's 'all groups' cell
                    key = self.book.cell(EXPOSURE_ALL + (r.period,), counts, [(gid, "total")])
                else:
                    key = self.book.cell(("ae-exposed", "all", "all", r.period), counts, [(gid, "total")])
            else:
                key = self.book.cell(("ae-exposed", r.drug, r.route, r.period), counts, [(gid, "part")])
                fields = tuple(f for f in counts if same and same[f] == counts[f])
                if fields:
                    tie = f"ae-exposed-tie-{r.drug}-{r.route}-{r.period}"
                    self.book.cell(key, {}, [(tie, "part", fields)])
                    self.book.cell(("exposure", r.drug, r.route, r.period), {}, [(tie, "total", fields)])
            self._ae_den[(r.drug, r.route, r.period)] = key
        # the month's patients exposed and sessions of a group are some of its cumulative ones (_nest)
        for (drug, route, period), key in self._ae_den.items():
            outer = self._ae_den.get((drug, route, "cumulative"))
            if period != "cumulative" and outer:
                self._nest(outer, key)
        return self._ae_den

    def _ae_table(self, sec, title, query, params, periods, forest=False, note=""):
        """query: the report/*.sql that reads the table's rows of marts.ae_rates (with its params)."""
        df = self.q(query, params)
        t = Table(title, ["Term", "Level", "Group", "Period", "Patients exposed", "Sessions", "Patients with event", "Events",
                          "Per 100 sessions (exact CI)", "Per 100 patient-years, EAIR (exact CI)"], note=note)
        forest_rows, term_figs = [], {}
        for r in df.itertuples():
            if r.period not in periods:
                continue
            grp = _grp(r.drug, r.route)
            p = "in month" if r.period == self.month else "cumulative"
            st = f"term={r.term}; level={r.level}; group={grp}; period={r.period}"
            # the group's patients exposed and sessions are its denominator cell (_ae_denominators);
            # the term's own counts are this cell, and a figure whose n is a denominator hides with both
            den = self._ae_denominators()[(r.drug, r.route, r.period)]
            key = self.book.cell((sec, r.level, r.term, r.drug, r.route, r.period),
                                 {"patients_without_event": r.patients_exposed - r.patients_with_event,
                                  "patients_with_event": r.patients_with_event, "events": r.events,
                                  "new_patients": r.new_patients_with_event},
                                 [(f"{sec}-{r.level}-{r.term}-{r.period}", "total" if r.drug == "all" else "part")], AE_PAIRS)
            per100 = self.book.add(sec, "per_100_sessions", st, r.sessions, r.per_100_sessions,
                                   (r.per_100_sessions_ci_low, r.per_100_sessions_ci_high), cell=key, kind="rate", deps=(den,))
            own = [self.book.add(sec, "patients_with_event", st, r.patients_exposed, r.patients_with_event, cell=key, deps=(den,)),
                   self.book.add(sec, "events", st, r.sessions, r.events, cell=key, deps=(den,)), per100,
                   # n is the patients exposed, as for patients with event (the new patients with an
                   # event were its n: a count shown beside a hidden row), and it hides with the denominators
                   self.book.add(sec, "eair_per_100py", st, r.patients_exposed, r.eair_per_100py,
                                 (r.eair_ci_low, r.eair_ci_high), cell=key, kind="rate", deps=(den,))]
            figs = [self.book.add(sec, "patients_exposed", st, r.patients_exposed, r.patients_exposed, cell=den),
                    self.book.add(sec, "sessions", st, r.sessions, r.sessions, cell=den), *own]
            # a preferred term (a data value, not our vocabulary) is printed only if one of its rows
            # shows a number of the term (the group's denominators say nothing of it): the term's rows
            # share one list of figures
            if r.level == "pt":
                term_figs.setdefault(r.term, []).extend(own)
                label = Guarded(r.term, term_figs[r.term], "suppressed term")
            else:
                label = r.term
            t.rows.append([label, r.level, grp, p, *figs])
            if forest and r.period == "cumulative":
                forest_rows.append((r.term, grp, per100))
        # A term's patients with an event, events and new patients with an event in the month are some of
        # its cumulative ones in the same group (an event in the month is one of the events up to its
        # end): nested, so their difference is protected (s8b review: Dizziness ketamine IV 14 vs 15).
        # Not patients without an event: one without an event in the month may have had one before.
        for r in df[df.period == self.month].itertuples():
            if "cumulative" in periods:
                self._nest((sec, r.level, r.term, r.drug, r.route, "cumulative"), (sec, r.level, r.term, r.drug, r.route, r.period),
                           AE_NESTED)
        # A label group's patients with an event and events are some of 'any adverse event''s, and those
        # of a preferred term some of its label group's (when every event of the term is in it:
        # ae_rates.in_label_group) and of 'any''s: nested, so e.g. a label group's 45 patients beside its
        # listed term's 41 do not show the 4 with another term of the group. Not new patients: a first
        # onset of a term need not be the first of its group.
        # Long-term signals are adverse-event terms too (all but the labs' ALT/AST signal), so they are
        # nested in the safety table's 'Any adverse event' (built before this table).
        for r in df[df.period.isin(periods) & (df.level != "any") & (df.term != LAB_SIGNAL)].itertuples():
            inner = (sec, r.level, r.term, r.drug, r.route, r.period)
            self._nest(("safety", "any", "Any adverse event", r.drug, r.route, r.period), inner, AE_IN_TERMS)
            if r.level == "pt" and isinstance(r.in_label_group, str):
                self._nest((sec, "label_group", r.in_label_group, r.drug, r.route, r.period), inner, AE_IN_TERMS)
        # Events of the preferred terms add up to 'any adverse event' when every term with an event is
        # shown: then they form an additive group (events only; a patient can have several terms).
        pt, anyr = df[df.level == "pt"], df[df.level == "any"]
        if len(pt) and len(anyr):
            sums = pt.groupby(["drug", "route", "period"]).events.sum()
            for r in anyr.itertuples():
                if r.period in periods and sums.get((r.drug, r.route, r.period)) == r.events:
                    gid = (f"{sec}-pt-sum-{r.drug}-{r.route}-{r.period}", "part", ("events",))
                    self.book.cell((sec, r.level, r.term, r.drug, r.route, r.period), {}, [(gid[0], "total", gid[2])])
                    for q in pt[(pt.drug == r.drug) & (pt.route == r.route) & (pt.period == r.period)].itertuples():
                        self.book.cell((sec, q.level, q.term, q.drug, q.route, q.period), {}, [gid])
        return t, forest_rows

    def safety(self):
        s = Section("safety", "Safety", "Adverse events by treatment group. Incidence per 100 sessions = events / sessions x 100; "
                    "EAIR = patients with a first event / patient-years at risk (to first event) x 100; exact Poisson CIs.")
        # the terms go in as a bound list (no term is '' in the marts: int_ae, so none matches an empty one)
        top = self.q("ae_rates_top_terms", [self.reg]).term.tolist()
        t, forest = self._ae_table("safety", "Adverse events: label groups (clinical-reference 4.1) and the most frequent preferred terms",
                                   "ae_rates_safety", [self.reg, top, self.month], (self.month, "cumulative"), forest=True)
        s.tables.append(t)
        s.charts.append(lambda forest=forest: charts.forest(forest, "Adverse events per 100 sessions by route (cumulative, exact 95 % CI)"))
        sae = self.q("sae_listing_by_term", [self.month, self.reg, self.reg, self.month])
        ts = Table("Serious adverse events (ICH E2A) by term and criterion", ["Preferred term", "Criteria", "In month", "Cumulative"],
                   note="Counts only: the listing behind it (marts.sae_listing) holds no identifiers but is not printed, as every row is a count of one.")
        for i, r in enumerate(sae.itertuples(), 1):
            st = f"term={r.meddra_pt}; criteria={r.criteria}"
            figs = [self.count("safety", "sae_events", st + f"; period={self.month}", r.in_month,
                               groups=[(f"sae-{self.month}", "part")]),
                    self.count("safety", "sae_events", st + "; period=cumulative", r.cumulative,
                               groups=[("sae-cumulative", "part")])]
            # the month's SAEs of a term and criterion are some of its cumulative ones (_nest)
            self._nest(figs[1].cell, figs[0].cell, ("n",))
            # the term is printed only beside a shown count (one SAE of a rare term may identify a patient)
            ts.rows.append([Guarded(r.meddra_pt, figs, f"suppressed term {i}", zero_is_silent=True), r.criteria, *figs])
        if len(sae):
            allsae = [self.count("safety", "sae_events", f"term=all; period={self.month}", int(sae.in_month.sum()),
                                 groups=[(f"sae-{self.month}", "total")]),
                      self.count("safety", "sae_events", "term=all; period=cumulative", int(sae.cumulative.sum()),
                                 groups=[("sae-cumulative", "total")])]
            self._nest(allsae[1].cell, allsae[0].cell, ("n",))
            ts.rows.append(["All SAEs", "", *allsae])
        s.tables.append(ts)
        for domain, title in (("blood_pressure", "Blood-pressure excursions after dosing (label thresholds)"),
                              ("dissociation", "Dissociation (CADSS) after dosing"), ("sedation", "Sedation (MOAA/S) after dosing"),
                              ("respiratory", "Oxygen saturation after dosing (respiratory depression)"),
                              ("rems", "REMS: esketamine monitoring under 120 min, and treatment at home"),
                              ("suicidality", "Suicidality screens")):
            s.tables.append(self._flag_table(domain, title))
        al = self.q("suicidality_alerts", [self.reg, self.month])
        ta = Table("Suicidality alerts raised at load", ["Rule", "In month", "Cumulative"])
        for rule, g in al.groupby("rule"):
            vals = {r.period: r.alerts for r in g.itertuples()}
            figs = [self.count("safety", "suicidality_alerts", f"rule={rule}; period={p}", vals.get(p, 0))
                    for p in (self.month, "cumulative")]
            self._nest(figs[1].cell, figs[0].cell, ("n",))  # the month's among the cumulative
            ta.rows.append([rule] + figs)
        s.tables.append(ta)
        self.sections.append(s)

    def _flag_table(self, domain, title):
        df = self.q("session_safety_domain", [self.reg, domain, self.month])
        unit = "assessments" if domain == "suicidality" else "sessions"
        t = Table(title, ["Measure", "Group", "Period", f"{unit.title()} evaluable", f"{unit.title()} flagged",
                          "% of " + unit + " (Wilson CI)", "Patients flagged", "% of patients (Clopper-Pearson CI)"])
        dens = {}  # (drug, route, period) -> {evaluable_on: denominator cell}
        flags = {}  # (measure, drug, route) -> {period: flag cell}
        for r in df.itertuples():
            grp = _grp(r.drug, r.route)
            p = "in month" if r.period == self.month else "cumulative"
            st = f"measure={r.measure}; group={grp}; period={r.period}"
            role = "total" if r.drug == "all" else "part"
            # The units and patients evaluable are the same numbers for every measure evaluated on the
            # same units (the three BP rise measures): one cell, in an additive group of the
            # treatment groups, and every figure whose n they are hides with it (as the AE denominators).
            den = self.book.cell(("flag-evaluable", domain, r.evaluable_on, r.drug, r.route, r.period),
                                 {unit: r.units_evaluable, "patients": r.patients_evaluable},
                                 [(f"flag-evaluable-{domain}-{r.evaluable_on}-{r.period}", role)])
            dens.setdefault((r.drug, r.route, r.period), {})[r.evaluable_on] = den
            key = self.book.cell(("flag", domain, r.measure, r.drug, r.route, r.period),
                                 {"flagged": r.units_flagged, "units_not_flagged": r.units_evaluable - r.units_flagged,
                                  "patients_flagged": r.patients_flagged,
                                  "patients_not_flagged": r.patients_evaluable - r.patients_flagged},
                                 [(f"flag-{domain}-{r.measure}-{r.period}", role)])
            flags.setdefault((r.measure, r.drug, r.route), {})[r.period] = key
            t.rows.append([r.measure, grp, p,
                           self.book.add("safety", f"{domain}_{unit}_evaluable", st, r.units_evaluable, r.units_evaluable, cell=den),
                           self.book.add("safety", f"{domain}_{unit}_flagged", st, r.units_evaluable, r.units_flagged, cell=key,
                                         deps=(den,)),
                           self.book.add("safety", f"{domain}_{unit}_rate", st, r.units_evaluable, r.unit_rate,
                                         (r.unit_ci_low, r.unit_ci_high), cell=key, kind="pct", deps=(den,)),
                           self.book.add("safety", f"{domain}_patients_flagged", st, r.patients_evaluable, r.patients_flagged,
                                         cell=key, deps=(den,)),
                           self.book.add("safety", f"{domain}_patient_rate", st, r.patients_evaluable, r.patient_rate,
                                         (r.patient_ci_low, r.patient_ci_high), cell=key, kind="pct", deps=(den,))])
        # The month's units and patients evaluable, and flagged, are some of the cumulative ones of the same
        # group (s8b review: suicidality item 9, esketamine 20 vs 23 patients flagged)
        for (drug, route, period), by in dens.items():
            cum = dens.get((drug, route, "cumulative"), {})
            if period != "cumulative":
                for b, inner in by.items():
                    if b in cum:
                        self._nest(cum[b], inner, (unit, "patients"))
        for (measure, drug, route), by in flags.items():
            if self.month in by and "cumulative" in by:
                self._nest(by["cumulative"], by[self.month], FLAG_NESTED)
        if unit == "sessions":  # sessions evaluable are some of the group's sessions (its AE denominators)
            for grp_key, by in dens.items():
                for outer in self._ae_den_keys(grp_key):
                    for b, inner in by.items():
                        self._nest(outer, inner)
                for outer_b, inner_b in NESTED.get(domain, ()):
                    if outer_b in by and inner_b in by:
                        self._nest(by[outer_b], by[inner_b])
        else:  # suicidality: a patient with an on-treatment screen by the month's end was treated by then,
            # in the group of their first session, so patients evaluable are some of the group's cumulative
            # patients exposed. Not in the month: a screen in it may follow a session of an earlier month.
            for grp_key, by in dens.items():
                if grp_key[2] != "cumulative":
                    continue
                for outer in self._ae_den_keys(grp_key):
                    for b, inner in by.items():
                        self._nest(outer, inner)
        return t

    def _nest(self, outer, inner, fields=("patients", "sessions")) -> None:
        """`inner` counts some of what `outer` counts (sessions with a post-dose BP among those with a pre-dose
        one; a month's patients among the cumulative ones): the difference is a count too, which a reader
        gets by subtraction when both are shown. It is a cell of its own that no figure shows, in an
        additive group inner + difference = outer, so a difference of 1..10 is hidden and one of the two
        shown cells with it (and the ledger compares it). `fields`: the counts of the two cells that are
        really nested (a subset, not just a smaller number); one where outer < inner (marts that
        disagree) is left out."""
        if outer not in self.book.cells or inner not in self.book.cells:
            return
        o, i = self.book.cells[outer].counts, self.book.cells[inner].counts
        fields = tuple(f for f in fields if f in o and f in i and o[f] >= i[f])
        if not fields:
            return
        key = ("nested",) + inner + ("in",) + outer
        gid = repr(key)  # one group per nested pair
        diff = self.book.cell(key, {f: o[f] - i[f] for f in fields}, [(gid, "part", fields)])
        # no figure shows it: when one of the two shown cells is hidden, hiding the difference is enough
        self.book.cells[diff].unshown = True
        self.book.cell(inner, {}, [(gid, "part", fields)])
        self.book.cell(outer, {}, [(gid, "total", fields)])

    def long_term(self):
        s = Section("long_term", "Long-term signals", "Urinary symptoms, hepatic (AE terms and ALT/AST >= 3x ULN in labs), misuse and "
                    "abuse, cognitive and suicidality terms (clinical-reference 4.4), with patient-year denominators.")
        t, _ = self._ae_table("long_term", "Long-term signals", "ae_rates_long_term", [self.reg, self.month],
                              (self.month, "cumulative"))
        s.tables.append(t)
        self.sections.append(s)

    def data_quality(self):
        s = Section("data_quality", "Data quality", "Load attempts and quarantined rows, by registry and month.")
        loads = self.q("dq_loads", [self.reg, self.reg, self.month])
        t = Table("Loads", ["Registry", "Month", "Status", "Loads", "Rows read", "Rows loaded", "Rows quarantined", "Rows withdrawn"])
        for r in loads.itertuples():
            st = f"registry={r.registry_id}; month={r.month}; status={r.status}"
            key = self.book.cell(("dq", r.registry_id, r.month, r.status),
                                 {"loads": r.loads, "read": r.rows_read, "loaded": r.rows_loaded, "q": r.rows_quarantined,
                                  "w": r.rows_withdrawn})
            t.rows.append([r.registry_id, r.month, r.status] + [self.book.add("data_quality", m, st, getattr(r, c), getattr(r, c), cell=key)
                          for m, c in (("loads", "loads"), ("rows_read", "rows_read"), ("rows_loaded", "rows_loaded"),
                                       ("rows_quarantined", "rows_quarantined"), ("rows_withdrawn", "rows_withdrawn"))])
        s.tables.append(t)
        q = self.q("dq_quarantine", [self.reg, self.reg, self.month])
        tq = Table("Quarantined rows by rule", ["Registry", "Month", "Table", "Rule", "Rows"])
        for r in q.itertuples():
            tq.rows.append([r.registry_id, r.month, r.table_name, r.rule,
                            self.count("data_quality", "rows_quarantined", f"registry={r.registry_id}; month={r.month}; "
                                       f"table={r.table_name}; rule={r.rule}", r.rows_quarantined)])
        s.tables.append(tq)
        pre = self.q("dq_pretreatment_ae", [self.reg, self.reg, self.month])
        tp = Table("Adverse events with onset before the first session", ["Registry", "Month", "Events", "Serious"],
                   note="Not treatment-emergent: left out of the adverse-event rates, long-term signals and SAE counts.")
        for r in pre.itertuples():
            st = f"registry={r.registry_id}; month={r.month}"
            key = self.book.cell(("dq-pre", r.registry_id, r.month), {"events": r.events, "serious": r.serious_events},
                                 pairs=[("events", "serious")])
            tp.rows.append([r.registry_id, r.month,
                            self.book.add("data_quality", "pretreatment_ae_events", st, r.events, r.events, cell=key),
                            self.book.add("data_quality", "pretreatment_ae_serious", st, r.events, r.serious_events, cell=key)])
        s.tables.append(tp)
        self.sections.append(s)
