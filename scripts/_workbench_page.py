"""What the screenshot scripts share: a workbench on a free loopback port and a Chromium page on it with
``examples/sample-report.html`` uploaded (Debian's Chromium through Playwright; ``.ci/browser.sh`` installs it,
nothing is downloaded). Needs the ``serve`` and ``dev`` extras."""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from playwright.sync_api import Page, sync_playwright

from threatevents.service.app import create_app
from threatevents.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-report.html"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--model", default="default", help="model to serve (default: the shipped default)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    return parser.parse_args()


@contextmanager
def uploaded_sample(model: str, chromium: str, width: int) -> Iterator[Page]:
    """A page showing the sample report after its upload, served from a temporary SQLite file; stops all after."""
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(db_url=f"sqlite:///{Path(tmp) / 'te.sqlite3'}", model=model))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 120
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise SystemExit("the workbench did not start")
            time.sleep(0.1)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                base = f"http://127.0.0.1:{sock.getsockname()[1]}"
                page = browser.new_page(base_url=base, viewport={"width": width, "height": 900})
                page.goto("/")
                page.set_input_files("#file", str(SAMPLE))
                page.get_by_role("button", name="Upload and tag").click()
                page.wait_for_url("**/documents/*", timeout=120_000)
                yield page
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()


def save(page: Page, out: Path) -> None:
    """A full-page screenshot from the top, without focus rings."""
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.evaluate("window.scrollTo(0, 0)")
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out), full_page=True)
    print(f"wrote {out}")
