"""HTML (self-contained: inline CSS and SVG, no script, no network) and PDF (the same HTML printed
by headless Chromium, so both say the same thing)."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from reports.figures import Fig

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"]


def chromium_binary() -> str | None:
    for name in (os.environ.get("OUTCOMES_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def render_html(context: dict) -> str:
    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.tests["fig"] = lambda x: isinstance(x, Fig)
    return env.get_template("report.html.j2").render(**context)


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> None:
    """Print the HTML with headless Chromium; raises RuntimeError when Chromium is missing or fails."""
    exe = chromium_binary()
    if exe is None:
        raise RuntimeError("chromium not found: install Debian's `chromium` (or set OUTCOMES_CHROMIUM) to write report.pdf")
    with tempfile.TemporaryDirectory(prefix="outcomes-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--no-pdf-header-footer",
               f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0 or not pdf_path.exists() or pdf_path.stat().st_size == 0:
        raise RuntimeError(f"chromium could not print the report (exit {out.returncode}): {out.stderr[-500:]}")
