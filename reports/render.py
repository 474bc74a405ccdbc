"""HTML (self-contained: inline CSS and SVG, no script, no network) and PDF (the same HTML printed
by headless Chromium, so both say the same thing)."""
from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from outcomes import scratch

# The last flag: Chromium 156 preloads its WebUI omnibox popups (a renderer of their own) even when
# headless, half of its ~1 CPU-second start-up; they never show, and the PDF is the same without.
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                  "--disable-features=WebUIOmniboxPopup,WebUIOmniboxFullPopup,WebUIOmniboxAimPopup"]

# What `chromium --headless --no-pdf-header-footer --print-to-pdf` asks of Page.printToPDF (its
# headless command handler: tagged PDF, backgrounds, the page size of the CSS @page rule), so the
# PDF printed over the DevTools pipe is the one the command line printed.
PRINT_TO_PDF = {"displayHeaderFooter": False, "generateTaggedPDF": True, "printBackground": True,
                "preferCSSPageSize": True}


def chromium_binary() -> str | None:
    """OUTCOMES_CHROMIUM's binary if set (or None when it names none: never another one behind the
    user's back), else the first of Debian's names found on the PATH."""
    named = os.environ.get("OUTCOMES_CHROMIUM")
    if named:
        return shutil.which(named)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def render_html(context: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from reports.figures import Fig

    env = Environment(loader=PackageLoader("reports", "templates"), autoescape=select_autoescape(["html", "j2"]))
    env.tests["fig"] = lambda x: isinstance(x, Fig)
    return env.get_template("report.html.j2").render(**context)


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = 120) -> None:
    """Print the HTML with headless Chromium; raises RuntimeError when Chromium is missing or fails."""
    with Chromium(timeout) as browser:
        browser.print_pdf(html_path, pdf_path)


_TRAMPOLINE = ("import os, sys\nos.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4)\n"
               "os.execv(sys.argv[3], sys.argv[3:])")


def _above_4(fd: int) -> int:
    """A copy of fd numbered 10 or more (close-on-exec), fd closed."""
    import fcntl

    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Chromium:
    """A headless Chromium started ahead of need, printing a page when asked.

    Why: started before the HTML exists (reports.report starts it when the marts are built),
    Chromium's start-up (~0.3 s of a ~1.6 s one-shot `--print-to-pdf`) overlaps the charts
    instead of following them. It is driven over --remote-debugging-pipe (DevTools protocol on its
    fds 3 and 4, NUL-terminated JSON): no port, no network, no extra dependency. print_pdf does
    what the one-shot command did (new target, load the file, wait for its load event,
    Page.printToPDF with the same options): the PDF is the same but for its creation date.

    Errors surface in print_pdf as RuntimeError (Chromium missing, exited, or too slow), so a
    report without Chromium still writes its HTML and CSV first, as before. close() (also on
    __exit__, and at interpreter exit as a last resort) ends the browser and every process it
    started (its own process group), whatever happened.
    """

    def __init__(self, timeout: float = 120):
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None
        self.error: str | None = None
        self._buf = bytearray()
        self._id = 0
        self._session: str | None = None
        self._profile: str | None = None
        self._stderr = tempfile.TemporaryFile()
        self._to = self._from = None
        self._prepared: threading.Thread | None = None
        exe = chromium_binary()
        if exe is None:
            self.error = ("OUTCOMES_CHROMIUM names no executable Chromium: fix or unset it to write report.pdf"
                          if os.environ.get("OUTCOMES_CHROMIUM") else
                          "chromium not found: install Debian's `chromium` (or set OUTCOMES_CHROMIUM) to write report.pdf")
            return
        self._profile = str(scratch.make("outcomes-chromium-"))  # and those of killed reports go
        to_r, to_w = os.pipe()      # we write, Chromium reads (its fd 3)
        from_r, from_w = os.pipe()  # Chromium writes (its fd 4), we read
        to_r, from_w = _above_4(to_r), _above_4(from_w)  # so that placing one cannot overwrite the other
        # A two-line Python trampoline puts the pipe ends on fds 3 and 4 and execs Chromium
        # (subprocess cannot place fds, preexec_fn is unsafe with threads running, and sh takes
        # single-digit fds only); a new session makes Chromium and its children one process group.
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _TRAMPOLINE, str(to_r), str(from_w), exe, *CHROMIUM_FLAGS,
                 f"--user-data-dir={self._profile}", "--remote-debugging-pipe", "about:blank"],
                pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._stderr, start_new_session=True)
        except OSError as e:
            self.error = f"chromium could not start: {e}"
            os.close(to_w)
            os.close(from_r)
        else:
            self._to, self._from = to_w, from_r
            import atexit

            atexit.register(self.close)
        finally:
            os.close(to_r)
            os.close(from_w)
        if self.error is None:  # open the page (target, session, Page domain) meanwhile
            self._prepared = threading.Thread(target=self._prepare, name="chromium-prepare", daemon=True)
            self._prepared.start()

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- DevTools protocol over the pipe ------------------------------------------------------
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            data = data[os.write(self._to, data):]
        return self._id

    def _recv(self, deadline: float) -> dict:
        while True:
            end = self._buf.find(b"\0")
            if end >= 0:
                msg = bytes(self._buf[:end])
                del self._buf[:end + 1]
                return json.loads(msg)
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(self._from, 1 << 20)
            if not chunk:
                raise EOFError
            self._buf += chunk

    def _call(self, method: str, params: dict | None = None, session: str | None = None,
              deadline: float | None = None) -> dict:
        i = self._send(method, params, session)
        while True:
            msg = self._recv(deadline or time.monotonic() + self.timeout)
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def _prepare(self) -> None:
        try:
            deadline = time.monotonic() + self.timeout
            target = self._call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
            self._session = self._call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                       deadline=deadline)["sessionId"]
            self._call("Page.enable", session=self._session, deadline=deadline)
            self._call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=self._session, deadline=deadline)
        except Exception as e:  # reported by print_pdf
            self.error = self._failure(e)

    def _failure(self, e: BaseException) -> str:
        if isinstance(e, TimeoutError):
            what = f"no answer within {self.timeout:.0f} s"
        elif isinstance(e, (EOFError, OSError)):
            what = f"exit {self.proc.poll() if self.proc else None}"
        else:
            what = str(e)
        try:
            self._stderr.seek(0)
            tail = self._stderr.read().decode(errors="replace")[-500:]
        except (OSError, ValueError):
            tail = ""
        tail = " ".join(tail.split())  # one line
        return f"chromium could not print the report ({what})" + (f": {tail}" if tail else "")

    def print_pdf(self, html_path: Path, pdf_path: Path) -> None:
        """Load the HTML file and print it to pdf_path; raises RuntimeError when Chromium is missing or fails."""
        if self._prepared is not None:
            self._prepared.join()
        if self.error is not None:
            raise RuntimeError(self.error)
        try:
            deadline = time.monotonic() + self.timeout
            frame = self._call("Page.navigate", {"url": Path(html_path).resolve().as_uri()}, self._session,
                               deadline)["frameId"]
            while True:
                msg = self._recv(deadline)
                if (msg.get("method") == "Page.lifecycleEvent" and msg["params"].get("name") == "load"
                        and msg["params"].get("frameId") == frame):
                    break
            data = base64.b64decode(self._call("Page.printToPDF", PRINT_TO_PDF, self._session, deadline)["data"])
        except Exception as e:
            raise RuntimeError(self._failure(e)) from None
        if not data:
            raise RuntimeError(self._failure(RuntimeError("empty PDF")))
        Path(pdf_path).write_bytes(data)

    def close(self) -> None:
        """End Chromium and every process it started (its process group), remove its profile."""
        proc, self.proc = self.proc, None
        if proc is not None:
            import atexit

            atexit.unregister(self.close)
            # SIGKILL to the group while its leader is not yet reaped (so the group id cannot have
            # been reused): the PDF, if any, is already written from the pipe, nothing to flush.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if self._prepared is not None:
            self._prepared.join()  # returns at once: the pipe is at EOF once Chromium is gone
        for fd in (self._to, self._from):
            if fd is not None:
                os.close(fd)
        self._to = self._from = None
        self._stderr.close()
        if self._profile is not None:
            # Killed, Chromium cannot remove the folder in TMPDIR its profile's SingletonSocket link
            # points at; left, one piled up in /tmp per report.
            socket = Path(self._profile) / "SingletonSocket"
            if socket.is_symlink():
                folder = Path(os.readlink(socket)).parent
                if folder.name.startswith("org.chromium.Chromium."):
                    shutil.rmtree(folder, ignore_errors=True)
            shutil.rmtree(self._profile, ignore_errors=True)
