"""Events on the review page in a real Chromium: highlights, edits by keyboard and by text selection, reload,
STIX export, and report markup inside an event span staying inert.

The server serves the shipped linear model, which extracts no events, so the test creates one through the REST
API (``POST /v1/documents/{id}/events``) on an uploaded report, then edits it on the page the way an analyst does.
Uses the server, browser and page fixtures of ``test_review_page`` (same skips).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.browser

sync_api = pytest.importorskip("playwright.sync_api", reason="needs the 'playwright' package (dev extra)")

import test_review_page as shared  # noqa: E402 - the same Chromium and workbench server

ARTIFACTS = shared.ARTIFACTS
server, browser, page = shared.server, shared.browser, shared.page  # fixtures

if TYPE_CHECKING:
    from playwright.sync_api import Page

# A made-up report. The last sentence holds markup that must stay text, inside an argument span.
MARKUP = "<img src=x onerror=\"alert('img')\"><script>alert('script')</script>"
REPORT = f"""Northwind Clinics hit by ransomware

Ransomware encrypted the file servers of Northwind Clinics on Monday.
Staff had received phishing emails that asked for their payroll passwords.
The gang signed its note as {MARKUP} Crew and demanded 40 bitcoin."""

#: Selects ``text`` (its ``occurrence``-th match in the sentence's text) as a mouse drag would: a DOM Range over
#: the text nodes of the sentence, which may cross highlight elements. The page must map it to offsets itself.
SELECT = """([rowText, text, occurrence]) => {
  const row = Array.from(document.querySelectorAll("li.sent")).find((r) => r.textContent.includes(rowText));
  const root = row.querySelector(".stext");
  const nodes = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) nodes.push(t);
  const whole = nodes.map((t) => t.data).join("");
  let at = -1;
  for (let i = 0; i <= occurrence; i++) at = whole.indexOf(text, at + 1);
  if (at < 0) throw new Error("not in the sentence: " + text);
  const point = (offset) => {
    for (const t of nodes) { if (offset <= t.data.length) return [t, offset]; offset -= t.data.length; }
    throw new Error("offset out of range");
  };
  const range = document.createRange();
  range.setStart(...point(at));
  range.setEnd(...point(at + text.length));
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}"""


def select_text(page: Page, row_text: str, text: str, occurrence: int = 0) -> None:
    page.evaluate(SELECT, [row_text, text, occurrence])
    sync_api.expect(page.locator("#sel-text")).to_have_text(text)


def span_of(doc: dict[str, Any], text: str, occurrence: int = 0) -> dict[str, int]:
    at = -1
    for _ in range(occurrence + 1):
        at = doc["text"].index(text, at + 1)
    return {"start": at, "end": at + len(text)}


def api_events(page: Page, doc_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    doc = page.request.get(f"/v1/documents/{doc_id}").json()
    return doc, doc["events"]


def labels_in(page: Page, row_text: str) -> list[str]:
    tags = page.locator("li.sent", has_text=row_text).locator(".tag")
    return [tag.get_attribute("data-label") or "" for tag in tags.all()]


def test_events_edit_by_keyboard_and_selection_survive_reload_and_reach_stix(page: Page, tmp_path: Path) -> None:
    expect = sync_api.expect
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    report = tmp_path / "northwind-events.txt"
    report.write_text(REPORT, encoding="utf-8")
    page.goto("/")
    page.set_input_files("#file", str(report))
    page.get_by_role("button", name="Upload and tag").click()
    page.wait_for_url("**/documents/*")
    doc_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    doc, events = api_events(page, doc_id)
    assert events == []  # the linear model extracts none

    # An event through the REST API (as an analyst's colleague or a script would add it): the attacker is
    # wrong (it is the victim), and one argument covers the report's markup.
    created = page.request.post(
        f"/v1/documents/{doc_id}/events",
        data={
            "type": "AttackRansom",
            "realis": "Actual",
            "trigger": span_of(doc, "encrypted"),
            "arguments": [
                {"role": "Attacker", **span_of(doc, "Northwind Clinics", 1)},
                {"role": "Tool", **span_of(doc, MARKUP)},
            ],
        },
    )
    assert created.status == 201, created.text()
    ransom_id = created.json()["id"]
    page.reload()

    ransom_row = page.locator("li.sent", has_text="Ransomware encrypted")
    expect(ransom_row.locator("mark.trig")).to_have_text("encrypted")
    expect(ransom_row.locator("mark.arg")).to_have_text("Northwind Clinics")
    assert labels_in(page, "Ransomware encrypted") == ["Ransom · Actual", "Attacker"]
    item = page.locator(f"#e{ransom_id}")
    expect(item.locator(".ev-state")).to_contain_text("Added by analyst")
    expect(item.locator("q").first).to_have_text("encrypted")
    # The markup is text in the sentence and in the side list.
    gang_row = page.locator("li.sent", has_text="The gang signed")
    expect(gang_row.locator("mark.arg")).to_have_text(MARKUP)
    expect(item.locator(".ev-args q").nth(1)).to_have_text(MARKUP)

    # Keyboard: n = the first event, o = its first argument's role, type "v" = Victim (saved on change).
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    expect(item).to_be_focused()
    page.keyboard.press("o")
    role = item.locator("select.arg-role").first
    expect(role).to_be_focused()
    page.keyboard.press("v")
    expect(page.locator(f"#e{ransom_id} select.arg-role").first).to_have_value("Victim")
    expect(page.locator(f"#e{ransom_id} .ev-state")).to_contain_text("by analyst")
    expect(page.locator(f"#e{ransom_id} select.arg-role").first).to_be_focused()  # focus survives the redraw
    assert labels_in(page, "Ransomware encrypted") == ["Ransom · Actual", "Victim"]
    page.keyboard.press("Escape")
    expect(page.locator(f"#e{ransom_id}")).to_be_focused()

    # Add an argument by selecting text that starts in plain text and ends inside a highlight.
    select_text(page, "Ransomware encrypted", "file servers of Northwind")
    page.select_option("#new-role", "Vulnerable_System")
    add_arg = page.locator("#add-arg")
    expect(add_arg).to_have_text("Add argument to Ransom “encrypted”")
    add_arg.click()
    expect(page.locator(f"#e{ransom_id} .ev-args")).to_contain_text("file servers of Northwind")
    labels = labels_in(page, "Ransomware encrypted")
    assert "Vulnerable_System" in labels

    # Add an event by selecting its trigger (mouse: select type and realis, then the button).
    select_text(page, "phishing emails", "phishing emails")
    page.select_option("#new-type", "AttackPhishing")
    page.select_option("#new-realis", "Actual")
    page.get_by_role("button", name="Add event").click()
    phishing = page.locator("li.event", has_text="phishing emails")
    expect(phishing).to_contain_text("Added by analyst")
    expect(page.locator("li.sent", has_text="phishing emails").locator("mark.trig")).to_have_text("phishing emails")
    expect(page.locator("#events-count")).to_have_text("2")

    # What the API stored: exact document offsets from the selections, roles, reviewer.
    doc, events = api_events(page, doc_id)
    by_type = {event["type"]: event for event in events}
    ransom = by_type["AttackRansom"]
    assert ransom["state"] == "accepted" and ransom["reviewer"] == "analyst"
    roles = {arg["role"]: arg for arg in ransom["arguments"] if arg["state"] != "deleted"}
    assert set(roles) == {"Victim", "Tool", "Vulnerable_System"}
    assert doc["text"][roles["Vulnerable_System"]["start"] : roles["Vulnerable_System"]["end"]] == (
        "file servers of Northwind"
    )
    assert roles["Victim"]["text"] == "Northwind Clinics"
    trigger = by_type["AttackPhishing"]["trigger"]
    assert doc["text"][trigger["start"] : trigger["end"]] == "phishing emails"
    assert by_type["AttackPhishing"]["origin"] == "analyst"

    # Everything survives a reload.
    page.reload()
    assert labels_in(page, "Ransomware encrypted") == ["Ransom · Actual", "Vulnerable_System", "Victim"]
    expect(page.locator(f"#e{ransom_id} select.arg-role").first).to_have_value("Victim")
    expect(page.locator("li.event", has_text="phishing emails")).to_contain_text("Added by analyst")
    expect(page.locator(f"#e{ransom_id}")).to_have_class(re.compile(r"\breviewed\b"))

    # Markup inside a span stayed text everywhere: no dialog, no element made from it.
    assert dialogs == []
    assert page.locator("main img, main script").count() == 0
    assert page.evaluate("document.querySelectorAll('img').length") == 0

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-events.png"), full_page=True)

    # The page's STIX export carries the correction: Northwind Clinics is the victim (an identity the ransom
    # event targets), not an attacker.
    with page.expect_download() as download_info:
        page.locator(".exports a", has_text=re.compile(r"^stix$")).click()
    bundle = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    objects = bundle["objects"]
    named = {(o["type"], o.get("name")) for o in objects}
    assert ("identity", "Northwind Clinics") in named
    actors = [o for o in objects if o["type"] in ("threat-actor", "intrusion-set")]
    assert not any(o.get("name") == "Northwind Clinics" for o in actors)
    victim_id = next(o["id"] for o in objects if o["type"] == "identity" and o.get("name") == "Northwind Clinics")
    assert any(o["type"] == "relationship" and o["target_ref"] == victim_id for o in objects)


def test_accept_delete_restore_by_keyboard_and_offsets_after_astral_characters(page: Page) -> None:
    expect = sync_api.expect
    page.goto("/")
    page.fill("#paste-title", "Keys")
    # An emoji is one character for the API (Python) but two UTF-16 units for the browser.
    page.fill("#paste-text", "🔥🔥 Ransomware encrypted the servers of Acme. A patch was released on Friday.")
    page.get_by_role("button", name="Tag text").click()
    page.wait_for_url("**/documents/*")
    doc_id = int(urlsplit(page.url).path.rsplit("/", 1)[1])
    doc, _ = api_events(page, doc_id)
    ids = []
    for kind, trigger in (("AttackRansom", "encrypted"), ("PatchVulnerability", "released")):
        answer = page.request.post(
            f"/v1/documents/{doc_id}/events",
            data={"type": kind, "realis": "Actual", "trigger": span_of(doc, trigger)},
        )
        assert answer.status == 201, answer.text()
        ids.append(answer.json()["id"])
    page.reload()
    page.keyboard.press("n")
    expect(page.locator(f"#e{ids[0]}")).to_be_focused()
    page.keyboard.press("a")
    expect(page.locator(f"#e{ids[0]} .ev-state")).to_contain_text("by analyst")
    page.keyboard.press("n")
    expect(page.locator(f"#e{ids[1]}")).to_be_focused()
    page.keyboard.press("t")
    expect(page.locator(f"#e{ids[1]} select.ev-type")).to_be_focused()
    page.keyboard.press("Escape")
    page.keyboard.press("d")
    expect(page.locator(f"#e{ids[1]}")).to_have_class(re.compile(r"\bstate-deleted\b"))
    expect(page.locator("li.sent", has_text="A patch").locator("mark")).to_have_count(0)
    expect(page.locator("#events-count")).to_have_text("1")
    states = {e["id"]: e["state"] for e in api_events(page, doc_id)[1]}
    assert states == {ids[0]: "accepted", ids[1]: "deleted"}
    # A deleted event can be restored (accepting it again).
    page.locator(f"#e{ids[1]}").get_by_role("button", name=re.compile("^Restore event")).click()
    expect(page.locator(f"#e{ids[1]}")).to_have_class(re.compile(r"\bstate-accepted\b"))
    expect(page.locator("li.sent", has_text="A patch").locator("mark.trig")).to_have_text("released")

    # A selection after the emoji maps to the API's offsets (code points, not UTF-16 units).
    page.locator(f"#e{ids[0]}").click()
    select_text(page, "Ransomware encrypted", "servers of Acme")
    page.select_option("#new-role", "Vulnerable_System")
    page.locator("#add-arg").click()
    expect(page.locator(f"#e{ids[0]} .ev-args")).to_contain_text("servers of Acme")
    doc, events = api_events(page, doc_id)
    (argument,) = next(e for e in events if e["id"] == ids[0])["arguments"]
    assert doc["text"][argument["start"] : argument["end"]] == "servers of Acme"

    # Type and realis by keyboard (t / r, then a letter), and removing the argument with its button.
    first = page.locator(f"#e{ids[0]}")
    first.focus()
    page.keyboard.press("t")
    page.keyboard.press("d")  # DiscoverVulnerability
    expect(page.locator(f"#e{ids[0]} .chip")).to_contain_text("Vuln found")
    page.keyboard.press("Escape")
    page.keyboard.press("r")
    page.keyboard.press("g")  # Generic
    expect(page.locator(f"#e{ids[0]} .ev-realis")).to_have_text("Generic")
    expect(page.locator("li.sent", has_text="Ransomware encrypted").locator(".tag-trigger")).to_have_attribute(
        "data-label", "Vuln found · Generic"
    )
    page.get_by_role("button", name="Remove argument Vulnerable_System “servers of Acme”").click()
    expect(page.locator(f"#e{ids[0]} .ev-args")).to_have_text("No arguments")
    expect(page.locator("li.sent", has_text="Ransomware encrypted").locator("mark.arg")).to_have_count(0)
    stored = next(e for e in api_events(page, doc_id)[1] if e["id"] == ids[0])
    assert (stored["type"], stored["realis"]) == ("DiscoverVulnerability", "Generic")
    assert [a["state"] for a in stored["arguments"]] == ["deleted"]
