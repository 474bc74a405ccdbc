"""The HTML renders in headless Chromium with its charts and no console messages; the PDF turns
into non-blank PNG pages. Skipped only when the binaries are missing (CI installs them)."""
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from reports.render import CHROMIUM_FLAGS, chromium_binary

chromium = pytest.mark.skipif(chromium_binary() is None, reason="chromium not installed (Debian package `chromium`)")
pdftoppm = pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm not installed (Debian package `poppler-utils`)")


@chromium
def test_html_renders_with_charts(report, tmp_path):
    cmd = [chromium_binary(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr",
           "--v=0", "--dump-dom", f"file://{report['html']}"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    dom = out.stdout
    assert dom.count("<svg") >= 4
    for sec in ("summary", "exposure", "efficacy", "safety", "long_term", "data_quality", "methods", "provenance"):
        assert f'id="{sec}"' in dom
    console = [ln for ln in out.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert console == []
    assert not re.search(r"(src|href)=\"https?://", dom)  # self-contained


@pdftoppm
def test_pdf_pages_not_blank(report, tmp_path):
    subprocess.run(["pdftoppm", "-r", "30", "-png", report["pdf"], str(tmp_path / "p")], check=True, timeout=120)
    pages = sorted(tmp_path.glob("p-*.png"))
    assert len(pages) >= 4
    import matplotlib.image as mpimg

    for p in pages:
        img = mpimg.imread(p)
        assert np.std(img) > 0.01, p.name


def test_a_chromium_named_that_does_not_exist_is_not_replaced_by_another(monkeypatch):
    """OUTCOMES_CHROMIUM naming no executable said nothing and printed with `chromium` from the PATH."""
    from reports.render import Chromium

    monkeypatch.setenv("OUTCOMES_CHROMIUM", "/nonexistent/chromium")
    assert chromium_binary() is None
    assert Chromium(5).error.startswith("OUTCOMES_CHROMIUM names no executable Chromium")


@chromium
def test_the_browser_leaves_nothing_in_the_temp_folder(monkeypatch, tmp_path):
    """Killed at close, Chromium could not remove its singleton-socket folder, and a profile was made
    even when no browser could start: one folder per report piled up in /tmp."""
    import tempfile

    from reports.render import Chromium

    tmp = Path(tempfile.mkdtemp(prefix="oc-t-"))  # short: a socket path holds at most 107 bytes
    try:
        monkeypatch.setenv("TMPDIR", str(tmp))
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        (tmp_path / "page.html").write_text("<!doctype html><title>t</title><p>page</p>")
        with Chromium(60) as browser:
            browser.print_pdf(tmp_path / "page.html", tmp_path / "page.pdf")
            assert len(list(tmp.iterdir())) == 2  # the profile and the socket's folder, while it runs
        assert (tmp_path / "page.pdf").read_bytes().startswith(b"%PDF")
        assert list(tmp.iterdir()) == []
        monkeypatch.setenv("OUTCOMES_CHROMIUM", "/nonexistent/chromium")
        with Chromium(5) as browser:
            assert browser.error
        assert list(tmp.iterdir()) == []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_a_pdf_that_cannot_be_printed_still_says_what_was_written_and_recorded(warehouse, tmp_path, monkeypatch):
    """The report was recorded as report N and its HTML and CSV written, but the command printed
    only the error, so a script learned no report id and a rerun recorded it again."""
    import json

    from click.testing import CliRunner

    from outcomes.cli import cli

    wh = tmp_path / "wh.duckdb"
    shutil.copy(warehouse, wh)
    monkeypatch.setenv("OUTCOMES_CHROMIUM", "/nonexistent/chromium")
    res = CliRunner().invoke(cli, ["report", "--month", "2025-02", "-w", str(wh), "--out", str(tmp_path / "r"),
                                   "--json"])
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["pdf"] is None and Path(out["html"]).exists() and Path(out["data"]).exists()
    import duckdb

    with duckdb.connect(str(wh), read_only=True) as con:  # the session's warehouse may hold earlier reports
        assert con.execute("SELECT max(report_id) FROM ops.publications").fetchone()[0] == out["report_id"]
    assert res.stderr.strip().startswith("Error: OUTCOMES_CHROMIUM names no executable Chromium")
    text = CliRunner().invoke(cli, ["report", "--month", "2025-02", "-w", str(wh), "--out", str(tmp_path / "t"),
                                    "--draft"])
    assert text.exit_code == 1 and "pdf:    not written (below)" in text.stdout
    assert "ledger: draft, not recorded" in text.stdout
