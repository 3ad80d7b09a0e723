"""Picture the review page's events: ``python scripts/screenshot_review_events.py docs/review-events.png``.

Starts the workbench (shipped default model, a temporary SQLite file) on a free loopback port, uploads
``examples/sample-report.html`` through the page, adds events through the REST API (no shipped model extracts
events yet), then on the page accepts one with the keyboard, adds a data-breach event and one of its arguments by
selecting text, and saves a full-page screenshot taken by Debian's Chromium through Playwright (``.ci/browser.sh``
installs it; nothing is downloaded). Needs the ``serve`` and ``dev`` extras.
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from playwright.sync_api import Page, expect, sync_playwright

from threatevents.service.app import create_app
from threatevents.service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "examples" / "sample-report.html"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
#: (type, trigger, [(role, argument text)]) for the sample report, as an extractor would propose them.
EVENTS = [
    (
        "AttackRansom",
        "encrypted",
        [
            ("Victim", "A regional hospital group"),
            ("Vulnerable_System", "the servers running its patient booking system"),
            ("Attacker", "the attackers"),
            ("Price", "40 bitcoin"),
        ],
    ),
    ("AttackPhishing", "phishing email", [("Attacker", "the intruders"), ("Trusted-Entity", "a supplier")]),
    (
        "DiscoverVulnerability",
        "disclosed",
        [
            ("Discoverer", "researchers at a security firm"),
            ("Vulnerable_System", "the remote-access gateway"),
            ("CVE", "CVE-2019-11510"),
        ],
    ),
    ("PatchVulnerability", "released", [("Releaser", "The vendor"), ("Patch", "a patch"), ("Time", "in April")]),
]
#: Selects the first ``text`` of a sentence as a mouse drag would (a DOM Range over its text nodes).
SELECT = """([rowText, text]) => {
  const row = Array.from(document.querySelectorAll("li.sent")).find((r) => r.textContent.includes(rowText));
  const nodes = [];
  const walker = document.createTreeWalker(row.querySelector(".stext"), NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) nodes.push(t);
  let at = nodes.map((t) => t.data).join("").indexOf(text);
  const point = (offset) => {
    for (const t of nodes) { if (offset <= t.data.length) return [t, offset]; offset -= t.data.length; }
  };
  const range = document.createRange();
  range.setStart(...point(at));
  range.setEnd(...point(at + text.length));
  window.getSelection().removeAllRanges();
  window.getSelection().addRange(range);
}"""


def span(text: str, part: str) -> dict[str, int]:
    start = text.index(part)
    return {"start": start, "end": start + len(part)}


def add_events(page: Page, doc_id: int) -> None:
    text: str = page.request.get(f"/v1/documents/{doc_id}").json()["text"]
    for kind, trigger, arguments in EVENTS:
        body: dict[str, Any] = {
            "type": kind,
            "realis": "Actual",
            "trigger": span(text, trigger),
            "arguments": [{"role": role, **span(text, part)} for role, part in arguments],
        }
        answer = page.request.post(f"/v1/documents/{doc_id}/events", data=body)
        if answer.status != 201:
            raise SystemExit(f"POST event: {answer.status} {answer.text()}")


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
                page = browser.new_page(base_url=base, viewport={"width": 1400, "height": 900})
                page.goto("/")
                page.set_input_files("#file", str(SAMPLE))
                page.get_by_role("button", name="Upload and tag").click()
                page.wait_for_url("**/documents/*", timeout=120_000)
                doc_id = int(page.url.rsplit("/", 1)[1].split("#")[0])
                add_events(page, doc_id)
                page.reload()
                # A data breach the extractor missed: select its trigger, choose the type, add; then an argument.
                page.evaluate(SELECT, ["copied records", "copied"])
                page.select_option("#new-type", "AttackDatabreach")
                page.get_by_role("button", name="Add event").click()
                expect(page.locator("li.event", has_text="copied")).to_contain_text("Added by")
                page.evaluate(SELECT, ["copied records", "records of about 120,000 patients"])
                page.select_option("#new-role", "Compromised-Data")
                page.locator("#add-arg").click()
                expect(page.locator("li.event", has_text="copied")).to_contain_text("120,000 patients")
                page.evaluate("document.activeElement && document.activeElement.blur()")
                # The whole side list in the picture (on screen it scrolls inside the window's height).
                page.locator(".events-panel").evaluate("panel => { panel.style.maxHeight = 'none'; }")
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
