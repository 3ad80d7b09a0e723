"""The review page in a real Chromium: upload, highlighting, keyboard review, reload, export, inert XSS.

Runs the whole app (shipped linear model, a temporary SQLite file) under uvicorn on a free loopback port
and drives Debian's Chromium through Playwright (``.ci/browser.sh`` installs both). Skips with the reason
when either is missing. Screenshots land in ``test-artifacts/`` (git-ignored).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

pytest.importorskip("fastapi", reason="the service needs the 'serve' extra: pip install 'threatevents[serve]'")
uvicorn = pytest.importorskip("uvicorn", reason="the service needs the 'serve' extra")
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'playwright' package (dev extra)")

from threatevents.service.app import create_app  # noqa: E402
from threatevents.service.settings import Settings  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM = Path(os.environ.get("THREATEVENTS_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

# A made-up report (not from the corpus) touching every event type, with indicators.
REPORT = """Northwind Clinics discloses ransomware attack

Ransomware encrypted the file servers of Northwind Clinics on Monday and the attackers demanded a bitcoin payment.
The criminals also stole patient records and leaked them on a dark web forum.
Staff had received phishing emails that asked them to confirm their payroll passwords on a fake login page.
The intruders exploited CVE-2023-4966, a vulnerability that researchers found in the remote access gateway.
The vendor released a security update that patches the flaw, and Northwind applied it on Wednesday.
Traffic went to 203.0.113.77 and to the domain update-northwind.example.com.
The clinics reopened on Thursday."""

XSS = (
    "Attackers stole data. <script>window.__xss = 1</script> "
    '<img src=x onerror="window.__xss = 2"> The end of the payload.'
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The workbench app (shipped linear model) under uvicorn in a thread, on a free loopback port."""
    yield from serve(tmp_path_factory, "linear")


def serve(tmp_path_factory: pytest.TempPathFactory, model: str) -> Iterator[str]:
    """The workbench app serving ``model`` under uvicorn in a thread, on a socket bound to a free loopback port
    (a temporary SQLite file); its base URL, until the generator is closed."""
    db = tmp_path_factory.mktemp("browser") / "te.sqlite3"
    app = create_app(Settings(db_url=f"sqlite:///{db}", model=model))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # a model with event heads takes longer to load
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium, or run .ci/browser.sh)")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    yield from open_page(browser, server)


def open_page(browser: Browser, server: str) -> Iterator[Page]:
    """A page on ``server`` in a fresh context; after it, no JavaScript error may have happened on it."""
    context = browser.new_context(base_url=server, viewport={"width": 1200, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def row(page: Page, text: str) -> Locator:
    return page.locator("li.sent", has_text=text)


def test_upload_review_reload_export(page: Page, tmp_path: Path) -> None:
    expect = sync_api.expect
    report = tmp_path / "northwind.txt"
    report.write_text(REPORT, encoding="utf-8")

    page.goto("/")
    page.set_input_files("#file", str(report))
    page.get_by_role("button", name="Upload and tag").click()
    page.wait_for_url("**/documents/*")

    # Sentences are highlighted by their predicted events, with stripes and indicators.
    expect(page.locator("li.sent")).to_have_count(8)
    ransom = row(page, "Ransomware encrypted")
    expect(ransom).to_have_class(re.compile(r"\bhl-AttackRansom\b"))
    expect(ransom.locator(".stripes i.ev-AttackRansom")).to_have_count(1)
    expect(row(page, "exploited CVE-2023-4966").locator(".iocs")).to_contain_text("CVE-2023-4966")
    expect(row(page, "Traffic went to").locator(".iocs")).to_contain_text("203.0.113.77")

    # Keyboard review: relabel the last sentence as ransom (3, Enter), accept the first one (a).
    last = row(page, "The clinics reopened")
    last.locator(".text").click()
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(last.locator(".state")).to_have_text("Relabelled by analyst")
    first = page.locator("li.sent").first
    first.locator(".text").click()
    page.keyboard.press("a")
    expect(first.locator(".state")).to_have_text("Accepted by analyst")
    # Multi-label: add "vulnerability found" (4) to the patch sentence; it gets a stripe per event.
    patch = row(page, "The vendor released")
    patch.locator(".text").click()
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    expect(patch.locator(".state")).to_have_text("Relabelled by analyst")
    expect(patch.locator(".stripes i")).to_have_count(2)
    expect(page.locator(".doc-tools .progress .muted")).to_have_text("3/8 reviewed")

    # The reviews are stored: they survive a reload.
    page.reload()
    last = row(page, "The clinics reopened")
    expect(last).to_have_class(re.compile(r"\bhl-AttackRansom\b.*\breviewed\b"))
    expect(last.locator("input[value=AttackRansom]")).to_be_checked()
    expect(last.locator("input[value=O]")).not_to_be_checked()

    # The filter shows only the sentences of one event.
    page.locator(".filters a", has_text="Ransom").click()
    expect(page.locator("li.sent .text", has_text="The clinics reopened")).to_be_visible()
    expect(page.locator("li.sent", has_text="phishing emails")).to_have_count(0)
    page.go_back()

    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_visible()
    page.keyboard.press("?")
    expect(page.locator("dialog#help")).to_be_hidden()

    ARTIFACTS.mkdir(exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "review-page.png"), full_page=True)

    with page.expect_download() as download_info:
        page.locator(".exports a", has_text=re.compile(r"^csv$")).click()  # not events-csv
    exported = Path(download_info.value.path()).read_text(encoding="utf-8")
    reopened = next(line for line in exported.splitlines() if "The clinics reopened" in line)
    assert ",AttackRansom," in reopened

    page.goto("/")
    expect(page.locator("table.docs tbody tr", has_text="northwind.txt")).to_contain_text("3/8 reviewed")
    page.screenshot(path=str(ARTIFACTS / "review-list.png"), full_page=True)


def chip_counts(page: Page) -> dict[str, int]:
    """The numbers on the filter chips (every label, ``O`` included) and on "Unreviewed", by ``data-count``."""
    cells = page.locator(".filters [data-count]").all()
    return {cell.get_attribute("data-count") or "": int(cell.inner_text()) for cell in cells}


def test_counts_follow_reviews_without_reload(page: Page) -> None:
    expect = sync_api.expect
    page.goto("/")
    page.fill("#paste-title", "Northwind counts")
    page.fill("#paste-text", REPORT)
    page.get_by_role("button", name="Tag text").click()
    page.wait_for_url("**/documents/*")
    doc_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    api = page.request.get(f"/v1/documents/{doc_id}").json()
    n = len(api["sentences"])

    # Every chip has a count, "None (O)" included, and they are the API's counts.
    before = chip_counts(page)
    assert before == {**api["label_counts"], "unreviewed": n}
    none_chip = page.locator(".filters a", has_text="None (O)")
    expect(none_chip.locator("b")).to_have_text(str(api["label_counts"]["O"]))
    assert api["label_counts"]["O"] > 0
    page.evaluate("window.__same_page = true")  # gone if the page reloads

    # Relabel a sentence with no event as ransom: O -1, Ransom +1, Unreviewed -1, progress +1.
    last = row(page, "The clinics reopened")
    assert last.locator("input[value=O]").is_checked()
    last.locator(".text").click()
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    expect(last.locator(".state")).to_have_text("Relabelled by analyst")
    expected = {**before, "O": before["O"] - 1, "AttackRansom": before["AttackRansom"] + 1, "unreviewed": n - 1}
    expect(page.locator(".filters [data-count=AttackRansom]")).to_have_text(str(expected["AttackRansom"]))
    assert chip_counts(page) == expected
    expect(page.locator(".doc-tools .progress .muted")).to_have_text(f"1/{n} reviewed")

    # Accepting a prediction changes no label count, only "Unreviewed"; re-reviewing changes neither.
    first = page.locator("li.sent").first
    first.locator(".text").click()
    page.keyboard.press("a")
    expect(first.locator(".state")).to_have_text("Accepted by analyst")
    expected["unreviewed"] = n - 2
    expect(page.locator(".filters [data-count=unreviewed]")).to_have_text(str(n - 2))
    assert chip_counts(page) == expected
    first.locator(".text").click()
    page.keyboard.press("a")
    expect(page.locator(".doc-tools .progress .muted")).to_have_text(f"2/{n} reviewed")
    assert chip_counts(page) == expected
    assert page.evaluate("window.__same_page") is True

    # The page agrees with the service and with a reload.
    after = page.request.get(f"/v1/documents/{doc_id}").json()["label_counts"]
    assert {**after, "unreviewed": n - 2} == expected
    page.reload()
    assert chip_counts(page) == expected


def test_report_markup_stays_inert(page: Page) -> None:
    page.goto("/")
    page.fill("#paste-title", "<b>bold title</b>")
    page.fill("#paste-text", XSS)
    page.get_by_role("button", name="Tag text").click()
    page.wait_for_url("**/documents/*")
    sync_api.expect(page.get_by_text("<script>window.__xss = 1</script>")).to_be_visible()
    sync_api.expect(page.locator("h1")).to_have_text("<b>bold title</b>")
    assert page.evaluate("window.__xss") is None
    assert page.locator("main img, main script").count() == 0


def test_failed_upload_is_reported_in_place(page: Page, tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 64)
    page.goto("/")
    page.set_input_files("#file", str(junk))
    page.get_by_role("button", name="Upload and tag").click()
    upload = page.locator("form.upload")
    sync_api.expect(upload.locator(".status")).to_contain_text("Failed:")
    sync_api.expect(upload.get_by_role("button", name="Upload and tag")).to_be_enabled()
    assert urlsplit(page.url).path == "/"
