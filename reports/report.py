"""generate_report: marts for the month (in memory), content, suppression, HTML, PDF, figures.csv."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

from reports.content import Content
from reports.marts import build_in_memory
from reports.methods import METHODS
from reports.render import html_to_pdf, render_html


class NoData(Exception):
    """Nothing to report for that month and registry (exit 1)."""


def month_bounds(month: str) -> datetime:
    """'YYYY-MM' -> the exclusive cut-off: the first instant of the next month, UTC."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month or ""):
        raise ValueError(f"--month must be YYYY-MM, got {month!r}")
    y, m = int(month[:4]), int(month[5:])
    return datetime(y + (m == 12), 1 if m == 12 else m + 1, 1, tzinfo=timezone.utc)


def generate_report(month: str, out_dir: str | Path, registry: str | None = None, as_of_load: int | None = None,
                    warehouse_path: str | Path | None = None, pdf: bool = True) -> dict:
    cutoff = month_bounds(month)
    con, info = build_in_memory(warehouse_path, as_of_load=as_of_load, cutoff=cutoff, registry=registry,
                                report_month=month)
    content = Content(con, month, registry)
    if not content.has_data():
        con.close()
        raise NoData(f"no sessions in {month}" + (f" for registry {registry}" if registry else "")
                     + (f" as of load {as_of_load}" if as_of_load is not None else ""))
    sections = content.build()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for s in sections:
        s.svgs = [c() for c in s.charts]
    from warehouse.connect import warehouse_path as resolve

    provenance = {**info, "warehouse": str(resolve(warehouse_path)),
                  "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    html = render_html({"month": month, "registry": registry or "all", "sections": sections, "methods": METHODS,
                        "provenance": provenance})
    html_path = out / "report.html"
    html_path.write_text(html, encoding="utf-8")
    csv_path = out / "figures.csv"
    content.book.write_csv(csv_path)
    pdf_path = out / "report.pdf"
    if pdf:
        html_to_pdf(html_path, pdf_path)
    con.close()
    return {"html": str(html_path), "pdf": str(pdf_path) if pdf else None, "data": str(csv_path),
            "figures": len(content.book.figs), "suppressed": sum(f.suppressed for f in content.book.figs),
            "last_load_id": info["last_load_id"], "timings": info["timings"]}
