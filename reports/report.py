"""generate_report: marts for the month (in memory), content, suppression (against the publication
ledger too, reports.ledger), HTML, figures.csv, PDF, and the ledger's record of what was shown.

The slow parts overlap (a report at 10M assessment rows has 10 s, issue 3, on as few as two
cores):
- the Python libraries needed after the SQL (pandas, scipy, statsmodels, lifelines, matplotlib,
  jinja2: ~1 s) are imported in a thread while the SQL models run (DuckDB releases the GIL while
  it executes), so this module imports nothing heavy at its top, and the build binds no query
  parameter before its models (reports.sources.sql_literal);
- the statistics of the marts run in a thread while the later models run (reports.marts.build);
- Chromium starts once the marts are built (reports.render.Chromium: ~0.3 s, ~0.5 CPU-second of
  start-up, the SQL having used both cores until then) and prints as soon as the HTML is written;
- the charts are drawn by this process and a fork of it (reports.charts.draw_all);
- the ledger's short write (the report's only write to the warehouse) runs while Chromium prints.
"""
from __future__ import annotations

import os
import re
import threading
import time
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path


class NoData(Exception):
    """Nothing to report for that month and registry (exit 1)."""


def month_bounds(month: str) -> datetime:
    """'YYYY-MM' -> the exclusive cut-off: the first instant of the next month, UTC."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValueError(f"--month must be YYYY-MM, got {month!r}")
    y, m = int(month[:4]), int(month[5:])
    return datetime(y + (m == 12), 1 if m == 12 else m + 1, 1, tzinfo=timezone.utc)


# In the order the report needs them. An import that fails here fails again, with its error, where
# the module is used; a module another thread is importing is waited for (the import lock).
WARM_MODULES = ("pandas", "reports.stats", "lifelines", "reports.content", "jinja2", "reports.methods")


def _warm_imports() -> None:
    import importlib

    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def generate_report(month: str, out_dir: str | Path, registry: str | None = None, as_of_load: int | None = None,
                    warehouse_path: str | Path | None = None, pdf: bool = True, draft: bool = False) -> dict:
    """Every count is compared with what earlier reports published (reports.ledger), and the report is
    recorded in the warehouse's ledger once its files are written. draft: compared but not recorded,
    written as report-draft.html, report-draft.pdf and figures-draft.csv, and marked as a draft."""
    cutoff = month_bounds(month)
    threading.Thread(target=_warm_imports, name="report-imports", daemon=True).start()
    with ExitStack() as cleanup:  # closes (kills) the Chromium _generate starts, on every path
        return _generate(month, out_dir, registry, as_of_load, warehouse_path, cutoff, pdf, draft, cleanup)


def _timed(f, *args):
    t = time.perf_counter()
    out = f(*args)
    return out, round(time.perf_counter() - t, 3)


def _remove(paths) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _generate(month, out_dir, registry, as_of_load, warehouse_path, cutoff, pdf, draft, cleanup: ExitStack) -> dict:
    from reports.ledger import read_published
    from reports.marts import build_in_memory

    con, info = build_in_memory(warehouse_path, as_of_load=as_of_load, cutoff=cutoff, registry=registry,
                                report_month=month, ledger=True)
    timings = dict(info["timings"])
    t = time.perf_counter()
    from reports.content import Content
    from reports.methods import METHODS
    from reports.render import render_html

    content = Content(con, month, registry, read_published(con))
    if not content.has_data():
        con.close()
        raise NoData(f"no sessions in {month}" + (f" for registry {registry}" if registry else "")
                     + (f" as of load {as_of_load}" if as_of_load is not None else ""))
    browser = None
    if pdf:
        from reports.render import Chromium

        browser = cleanup.enter_context(Chromium())  # starts up while the content and charts are made
    sections = content.build()
    timings["content"] = round(time.perf_counter() - t, 3)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    from reports.charts import draw_all

    svgs = iter(draw_all([c for s in sections for c in s.charts]))
    for s in sections:
        s.svgs = [next(svgs) for _ in s.charts]
    timings["charts"] = round(time.perf_counter() - t, 3)
    # The content has read all it needs: free DuckDB's memory (~0.1 s) while Chromium prints. Not
    # before the charts: freeing pages shared with their fork (draw_all) would copy them.
    closing = threading.Thread(target=con.close, name="marts-close")
    closing.start()
    from warehouse.connect import warehouse_path as resolve

    provenance = {**info, "warehouse": str(resolve(warehouse_path)),
                  "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    html = render_html({"month": month, "registry": registry or "all", "sections": sections, "methods": METHODS,
                        "provenance": provenance, "draft": draft})
    suffix = "-draft" if draft else ""  # a draft's files say so by name too, not only inside
    html_path, csv_path, pdf_path = out / f"report{suffix}.html", out / f"figures{suffix}.csv", out / f"report{suffix}.pdf"
    # Written under hidden temporary names and moved into place only once the report is recorded:
    # a report that fails (not recorded, killed) leaves no file of its own and never removes the
    # files of one published before into the same folder.
    tmp = {p: p.with_name(f".{p.name}.{os.getpid()}.tmp") for p in (html_path, csv_path, pdf_path)}
    res = {"html": str(html_path), "pdf": str(pdf_path) if browser is not None else None, "data": str(csv_path),
           "figures": len(content.book.figs), "suppressed": sum(f.suppressed for f in content.book.figs),
           "last_load_id": info["last_load_id"], "timings": timings, "report_id": None}
    try:
        tmp[html_path].write_text(html, encoding="utf-8")
        content.book.write_csv(tmp[csv_path])
        recording = None
        if not draft:
            # Recorded while Chromium prints, in a daemon thread: a report stopped meanwhile (Ctrl-C,
            # SIGTERM while it waits for a busy warehouse) exits without committing it.
            from reports.ledger import record, shown_counts

            scope, book = registry or "all", content.book
            recording = _Background(_timed, record, provenance["warehouse"],
                                    {**provenance, "month": month, **res, "html": str(html_path.resolve())}, scope,
                                    shown_counts(book.cells.values(), book.hidden, scope, book.aliases))
        printed = None
        if browser is not None:
            t = time.perf_counter()
            try:
                browser.print_pdf(tmp[html_path], tmp[pdf_path])
                timings["pdf"] = round(time.perf_counter() - t, 3)
            except Exception as e:  # the HTML and CSV are published all the same once recorded
                printed = e
        if recording is not None:
            res["report_id"], timings["ledger"] = recording.result()
        # recorded (or a draft): publish; the HTML last, so a report.html on disk has its figures.csv
        for final in (csv_path, pdf_path, html_path):
            if tmp[final].exists() and (final is not pdf_path or printed is None):
                os.replace(tmp[final], final)
        if printed is not None:
            res["pdf"] = None
            raise PdfFailed(str(printed), res)
    finally:
        closing.join()
        _remove(tmp.values())
    return res


class PdfFailed(RuntimeError):
    """The PDF could not be printed; the HTML and CSV were written (and recorded, unless a draft),
    as `result` says: the caller must still say so, or a rerun records the report again."""

    def __init__(self, message: str, result: dict):
        super().__init__(message)
        self.result = result


class _Background:
    """f(*args) in a daemon thread; result() waits and returns or raises what it did."""

    def __init__(self, f, *args):
        self._out: list = []
        self._thread = threading.Thread(target=self._run, args=(f, *args), name="report-ledger", daemon=True)
        self._thread.start()

    def _run(self, f, *args):
        try:
            self._out.append((True, f(*args)))
        except BaseException as e:  # handed to the waiting thread
            self._out.append((False, e))

    def result(self):
        self._thread.join()
        ok, value = self._out[0]
        if not ok:
            raise value
        return value
