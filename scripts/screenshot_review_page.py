"""Take the README's picture of the review page: ``python scripts/screenshot_review_page.py docs/review-page.png``.

Starts the workbench (shipped default model, a temporary SQLite file) on a free loopback port, uploads
``examples/sample-report.html`` through the page, accepts one sentence and relabels another with the keyboard,
and saves a full-page screenshot taken by Debian's Chromium through Playwright (``.ci/browser.sh`` installs it;
nothing is downloaded).
Needs the ``serve`` and ``dev`` extras.
"""

from __future__ import annotations

from _workbench_page import parse_args, save, uploaded_sample
from playwright.sync_api import expect


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    with uploaded_sample(args.model, args.chromium, width=1200) as page:
        rows = page.locator("li.sent")
        rows.nth(1).locator(".text").click()
        page.keyboard.press("a")  # accept the prediction
        expect(rows.nth(1).locator(".state")).to_have_text("Accepted by analyst")
        breach = page.locator("li.sent", has_text="copied records")
        breach.locator(".text").click()
        page.keyboard.press("1")  # relabel as a data breach (the model said no event)
        page.keyboard.press("Enter")
        expect(breach.locator(".state")).to_have_text("Relabelled by analyst")
        page.locator("li.sent.current").evaluate("row => row.classList.remove('current')")
        save(page, args.out)


if __name__ == "__main__":
    main()
