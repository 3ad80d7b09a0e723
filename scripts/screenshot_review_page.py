"""Take the README's picture of the review page: ``python scripts/screenshot_review_page.py docs/review-page.png``.

Starts the workbench (shipped default model, a temporary SQLite file) on a free loopback port, uploads
``examples/sample-report.html`` through the page, accepts one sentence and relabels another with the keyboard,
and saves a full-page screenshot taken by Debian's Chromium through Playwright (``.ci/browser.sh`` installs it;
nothing is downloaded).
Needs the ``serve`` and ``dev`` extras.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import expect, sync_playwright

from threatevents.service.app import create_app
from threatevents.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-report.html"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--model", default="default", help="model to serve (default: the shipped default)")
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(Settings(db_url=f"sqlite:///{Path(tmp) / 'te.sqlite3'}", model=args.model))
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
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                base = f"http://127.0.0.1:{sock.getsockname()[1]}"
                page = browser.new_page(base_url=base, viewport={"width": 1200, "height": 900})
                page.goto("/")
                page.set_input_files("#file", str(SAMPLE))
                page.get_by_role("button", name="Upload and tag").click()
                page.wait_for_url("**/documents/*", timeout=120_000)
                rows = page.locator("li.sent")
                rows.nth(1).locator(".text").click()
                page.keyboard.press("a")  # accept the prediction
                expect(rows.nth(1).locator(".state")).to_have_text("Accepted by analyst")
                breach = page.locator("li.sent", has_text="copied records")
                breach.locator(".text").click()
                page.keyboard.press("1")  # relabel as a data breach (the model said no event)
                page.keyboard.press("Enter")
                expect(breach.locator(".state")).to_have_text("Relabelled by analyst")
                page.evaluate("document.activeElement && document.activeElement.blur()")
                page.locator("li.sent.current").evaluate("row => row.classList.remove('current')")
                page.evaluate("window.scrollTo(0, 0)")
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            sock.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
