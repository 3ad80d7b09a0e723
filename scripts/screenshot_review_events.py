"""Picture the review page's events: ``python scripts/screenshot_review_events.py docs/review-events.png``.

Starts the workbench (shipped default model, a temporary SQLite file) on a free loopback port, uploads
``examples/sample-report.html`` through the page, adds events through the REST API (no shipped model extracts
events yet), then on the page accepts one with the keyboard, adds a data-breach event and one of its arguments by
selecting text, and saves a full-page screenshot taken by Debian's Chromium through Playwright (``.ci/browser.sh``
installs it; nothing is downloaded). Needs the ``serve`` and ``dev`` extras.
"""

from __future__ import annotations

from typing import Any

from _workbench_page import parse_args, save, uploaded_sample
from playwright.sync_api import Page, expect

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
    args = parse_args(__doc__.splitlines()[0])
    with uploaded_sample(args.model, args.chromium, width=1400) as page:
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
        # The whole side list in the picture (on screen it scrolls inside the window's height).
        page.locator(".events-panel").evaluate("panel => { panel.style.maxHeight = 'none'; }")
        save(page, args.out)


if __name__ == "__main__":
    main()
