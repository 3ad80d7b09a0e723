"""The review page with the shipped ``events`` model, in a real Chromium: an analyst selects a trigger the model
missed, adds the event with "suggest arguments" ticked, and the model's arguments for it appear as proposals to
review, highlighted in the text and listed under the event; unticked, none are added.

Uses the browser fixture of ``test_review_page`` (same skips), with a server of its own for the events model.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'playwright' package (dev extra)")

import test_review_events as events_page  # noqa: E402 - the selection helper
import test_review_page as shared  # noqa: E402 - the same Chromium

browser = shared.browser  # fixture

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# A made-up report.
REPORT = """Globex discloses a breach

Globex said on Friday that intruders copied the names and card numbers of 12,000 customers.
The company hired investigators and notified regulators."""


@pytest.fixture(scope="module")
def events_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    served = shared.serve(tmp_path_factory, "events")
    base = next(served)
    import urllib.request

    deadline = time.monotonic() + 120
    while True:  # the model loads after the server starts
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("the events model did not load")
        time.sleep(0.2)
    yield base
    served.close()


@pytest.fixture
def events_page_(browser: Browser, events_server: str) -> Iterator[Page]:
    yield from shared.open_page(browser, events_server)


def test_an_added_trigger_gets_the_models_arguments_as_proposals(events_page_: Page, tmp_path: Path) -> None:
    page, expect = events_page_, sync_api.expect
    report = tmp_path / "globex.txt"
    report.write_text(REPORT, encoding="utf-8")
    page.goto("/")
    page.set_input_files("#file", str(report))
    page.get_by_role("button", name="Upload and tag").click()
    page.wait_for_url("**/documents/*", timeout=120_000)
    doc_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    before = {e["id"] for e in page.request.get(f"/v1/documents/{doc_id}").json()["events"]}
    suggest = page.locator("#new-suggest")
    expect(suggest).to_be_checked()

    events_page.select_text(page, "intruders copied", "copied")
    page.locator("#new-type").select_option("AttackDatabreach")
    page.locator("#add-event").click()
    expect(page.locator("#new-status")).to_contain_text("suggested argument")
    doc = page.request.get(f"/v1/documents/{doc_id}").json()
    (added,) = [e for e in doc["events"] if e["id"] not in before]
    assert (added["trigger"]["text"], added["origin"], added["state"]) == ("copied", "analyst", "accepted")
    proposed = added["arguments"]
    assert proposed, "the events model suggested no argument for a plain breach sentence"
    assert {(a["origin"], a["state"]) for a in proposed} == {("model", "proposed")}
    for argument in proposed:  # each reads its own text in the report
        assert doc["text"][argument["start"] : argument["end"]] == argument["text"]
    item = page.locator(f"#e{added['id']}")
    expect(item.locator(".ev-args li")).to_have_count(len(proposed))

    suggest.uncheck()
    events_page.select_text(page, "notified regulators", "notified")
    page.locator("#add-event").click()
    expect(page.locator("#new-status")).to_have_text("Added AttackDatabreach “notified”.")
    doc = page.request.get(f"/v1/documents/{doc_id}").json()
    (plain,) = [e for e in doc["events"] if e["id"] not in before and e["id"] != added["id"]]
    assert (plain["trigger"]["text"], plain["arguments"]) == ("notified", [])
