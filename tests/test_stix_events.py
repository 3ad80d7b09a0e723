"""Linked STIX 2.1 from structured events (issue 13 item 4): entities, relationships, one object per entity,
report references, OASIS validation with no warning; and a real CASIE article's gold events."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from stix2validator import ValidationOptions, print_results, validate_string

from conftest import CASIE_EVENTS
from threatevents.events import Argument, Event, Span, read_event_file
from threatevents.export.stix import IDENTITY_ID, to_stix_json
from threatevents.indicators import extract_indicators
from threatevents.tagging import TaggedSentence

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CASIE = CASIE_EVENTS / "annotation"

TEXT = (
    "Lazarus Group and North Korean hackers hit Acme Corp with WannaCry ransomware sent by phishing. "
    "They also targeted the CEO of ACME corp. "
    "Microsoft fixed CVE-2017-0144, the SMB flaw in Windows, with the MS17-010 update."
)


def arg(role: str, text: str, entity_type: str | None = None, nth: int = 0) -> Argument:
    start = -1
    for _ in range(nth + 1):
        start = TEXT.index(text, start + 1)
    return Argument(role, start, start + len(text), text, entity_type)


def trigger(text: str) -> Span:
    start = TEXT.index(text)
    return Span(start, start + len(text), text)


ATTACK = Event(
    "AttackRansom",
    "Actual",
    trigger("hit"),
    [
        arg("Attacker", "Lazarus Group", "Organization"),
        arg("Attacker", "North Korean hackers", "Person"),
        arg("Victim", "Acme Corp", "Organization"),
        arg("Tool", "WannaCry ransomware", "Malware"),
        arg("Attack-Pattern", "phishing", "Capabilities"),
    ],
)
SECOND = Event(
    "AttackRansom",
    "Actual",
    trigger("targeted"),
    [arg("Attacker", "They", "Person"), arg("Victim", "the CEO", "Person"), arg("Victim", "ACME corp", "Organization")],
)
PATCH = Event(
    "PatchVulnerability",
    "Actual",
    trigger("fixed"),
    [
        arg("Vulnerable_System_Owner", "Microsoft", "Organization"),
        arg("CVE", "CVE-2017-0144", "CVE"),
        arg("Vulnerability", "the SMB flaw", "Vulnerability"),
        arg("Vulnerable_System", "Windows", "Software"),
        arg("Patch", "MS17-010 update", "Patch"),
    ],
)


def sentences(text: str, events: list[Event], document: str = "acme.txt") -> list[TaggedSentence]:
    """The text split at ". " into tagged sentences (document offsets), each with the events triggered in it."""
    out, start = [], 0
    for index, part in enumerate(re.split(r"(?<=\.) ", text)):
        end = start + len(part)
        own = tuple(e for e in events if start <= e.trigger.start < end)
        found = tuple(i.in_document(index, start) for i in extract_indicators(part))
        out.append(TaggedSentence(document, index, start, end, part, ("O",), {}, 0, found, None, own))
        start = end + 1
    return out


def validate_strictly(content: str) -> None:
    """No errors and no warnings from the OASIS validator (every default check on)."""
    result = validate_string(content, ValidationOptions())
    print_results(result)
    assert result.is_valid and not result.errors and not result.warnings


def by_type(bundle: dict[str, Any], object_type: str) -> list[dict[str, Any]]:
    return [o for o in bundle["objects"] if o["type"] == object_type]


def relationships(bundle: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(source name, relationship type, target name) of every relationship."""
    names = {o["id"]: o.get("name", o["id"]) for o in bundle["objects"]}
    return {(names[r["source_ref"]], r["relationship_type"], names[r["target_ref"]]) for r in links(bundle)}


def links(bundle: dict[str, Any], relationship_type: str | None = None) -> list[dict[str, Any]]:
    found = by_type(bundle, "relationship")
    return [r for r in found if relationship_type is None or r["relationship_type"] == relationship_type]


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    content = to_stix_json([sentences(TEXT, [ATTACK, SECOND, PATCH])], created=CREATED)
    validate_strictly(content)
    return dict(json.loads(content))


def test_arguments_become_typed_objects(bundle: dict[str, Any]) -> None:
    assert [o["name"] for o in by_type(bundle, "intrusion-set")] == ["Lazarus Group"]
    assert [o["name"] for o in by_type(bundle, "threat-actor")] == ["North Korean hackers"]  # "They" names no one
    identities = {o["name"]: o["identity_class"] for o in by_type(bundle, "identity") if o["id"] != IDENTITY_ID}
    assert identities == {"Acme Corp": "organization", "the CEO": "individual", "Microsoft": "organization"}
    (malware,) = by_type(bundle, "malware")
    assert malware["name"] == "WannaCry ransomware" and malware["malware_types"] == ["ransomware"]
    assert [o["name"] for o in by_type(bundle, "attack-pattern")] == ["phishing"]
    assert [o["name"] for o in by_type(bundle, "infrastructure")] == ["Windows"]
    assert [o["name"] for o in by_type(bundle, "course-of-action")] == ["MS17-010 update"]


def test_a_cve_is_one_vulnerability_with_its_reference(bundle: dict[str, Any]) -> None:
    # Named by the CVE argument, found by indicator extraction, described as "the SMB flaw": one object.
    (vulnerability,) = by_type(bundle, "vulnerability")
    assert vulnerability["name"] == "CVE-2017-0144"
    assert vulnerability["external_references"] == [{"source_name": "cve", "external_id": "CVE-2017-0144"}]
    assert "'the SMB flaw'" in vulnerability["description"]


def test_the_same_entity_named_twice_is_one_object(bundle: dict[str, Any]) -> None:
    (acme,) = [o for o in by_type(bundle, "identity") if o["name"] == "Acme Corp"]  # and "ACME corp" later
    assert "sentence 0 of acme.txt" in acme["description"] and "sentence 1 of acme.txt" in acme["description"]
    ids = [o["id"] for o in bundle["objects"]]
    assert len(ids) == len(set(ids))


def test_relationships_say_what_the_events_say(bundle: dict[str, Any]) -> None:
    assert relationships(bundle) == {
        ("Lazarus Group", "targets", "Acme Corp"),
        ("North Korean hackers", "targets", "Acme Corp"),
        ("Lazarus Group", "uses", "WannaCry ransomware"),
        ("North Korean hackers", "uses", "WannaCry ransomware"),
        ("Lazarus Group", "uses", "phishing"),
        ("North Korean hackers", "uses", "phishing"),
        ("Lazarus Group", "attributed-to", "North Korean hackers"),
        ("WannaCry ransomware", "targets", "Acme Corp"),
        ("phishing", "targets", "Acme Corp"),
        ("MS17-010 update", "mitigates", "CVE-2017-0144"),
        ("Windows", "has", "CVE-2017-0144"),
        ("Microsoft", "related-to", "Windows"),
    }  # the second event's attacker is a pronoun: its victims are named, but no one targets them
    (mitigates,) = links(bundle, "mitigates")
    assert "PatchVulnerability (Actual) 'fixed' in sentence 2 of acme.txt" in mitigates["description"]


def test_the_report_references_every_object(bundle: dict[str, Any]) -> None:
    (report,) = by_type(bundle, "report")
    others = [o["id"] for o in bundle["objects"] if o["type"] not in ("report",)]
    assert report["object_refs"] == others


def test_ids_are_deterministic_and_shared_across_reports() -> None:
    first = json.loads(to_stix_json([sentences(TEXT, [ATTACK, PATCH])], created=CREATED))
    again = json.loads(to_stix_json([sentences(TEXT, [ATTACK, PATCH])], created=CREATED))
    assert first == again
    two = to_stix_json([sentences(TEXT, [ATTACK]), sentences(TEXT, [ATTACK], document="copy.txt")], created=CREATED)
    validate_strictly(two)
    parsed = json.loads(two)
    assert len(by_type(parsed, "intrusion-set")) == 1  # one object, listed by both reports
    lazarus = by_type(parsed, "intrusion-set")[0]["id"]
    assert all(lazarus in report["object_refs"] for report in by_type(parsed, "report"))
    assert lazarus in {o["id"] for o in by_type(first, "intrusion-set")}


def test_hostile_argument_text_stays_data() -> None:
    text = '\'; DROP <script>alert(1)</script> stole data from "Bobby" Tables\u202e.'
    start = text.index("<script>")
    event = Event(
        "AttackDatabreach",
        "Actual",
        Span(text.index("stole"), text.index("stole") + 5, "stole"),
        [Argument("Attacker", start, start + 25, text[start : start + 25], "Person")],
    )
    content = to_stix_json([[TaggedSentence("x.txt", 0, 0, len(text), text, ("O",), {}, events=(event,))]])
    validate_strictly(content)
    (actor,) = by_type(json.loads(content), "threat-actor")
    assert actor["name"] == "<script>alert(1)</script>"


# -- a real article ---------------------------------------------------------------------------------------------


def _raw_article(roles: tuple[str, str]) -> tuple[Path, list[dict[str, Any]]]:
    """The first CASIE file (by name) with an event holding both roles, and its raw events."""
    if not CASIE.is_dir():
        pytest.skip(f"CASIE annotation not found at {CASIE} (see ../shared/data/README.md)")
    for path in sorted(CASIE.glob("*.json"), key=lambda p: (len(p.stem), p.stem)):
        raw = json.loads(path.read_text(encoding="utf-8"))
        events = [e for h in raw["cyberevent"]["hopper"] for e in h["events"]]
        if any({roles[0], roles[1]} <= {a["role"]["type"] for a in e.get("argument", [])} for e in events):
            return path, events
    pytest.skip(f"no CASIE article with {roles}")


def _export_gold(path: Path) -> dict[str, Any]:
    document = read_event_file(path)
    text = document.text
    sentence = TaggedSentence(path.name, 0, 0, len(text), text, ("O",), {}, events=tuple(document.events))
    content = to_stix_json([[sentence]], created=CREATED)
    validate_strictly(content)
    return dict(json.loads(content))


def _named(bundle: dict[str, Any], types: tuple[str, ...]) -> dict[str, str]:
    """Normalised name -> id of the objects of ``types``."""
    return {_key(o["name"]): o["id"] for o in bundle["objects"] if o["type"] in types}


def _key(text: str) -> str:
    """A name as the test compares it: whitespace collapsed, case-folded, edge punctuation and a leading article
    dropped (how a report names one entity twice: "The company" / "the company.")."""
    key = " ".join(text.split()).casefold().strip(" .,;:'\"()")
    return re.sub(r"^(the|a|an) ", "", key)


def test_real_article_cve_and_patch() -> None:
    path, events = _raw_article(("CVE", "Patch"))
    bundle = _export_gold(path)
    vulnerabilities = {o["name"]: o for o in by_type(bundle, "vulnerability")}
    patches = by_type(bundle, "course-of-action")
    pairs = {(r["source_ref"], r["target_ref"]) for r in links(bundle, "mitigates")}
    (report,) = by_type(bundle, "report")
    checked = 0
    for event in events:
        arguments = event.get("argument", [])
        cves = [a["text"].upper() for a in arguments if a["role"]["type"] == "CVE"]
        fixes = [_key(a["text"]) for a in arguments if a["role"]["type"] == "Patch"]
        for cve in cves:
            assert vulnerabilities[cve]["external_references"] == [{"source_name": "cve", "external_id": cve}]
            for fix in fixes:
                (patch,) = [p for p in patches if _key(p["name"]) == fix]
                assert (patch["id"], vulnerabilities[cve]["id"]) in pairs, (path.name, fix, cve)
                assert {patch["id"], vulnerabilities[cve]["id"]} <= set(report["object_refs"])
                checked += 1
    assert checked >= 1


def test_real_article_attacker_and_victim() -> None:
    path, events = _raw_article(("Attacker", "Victim"))
    bundle = _export_gold(path)
    actors = _named(bundle, ("threat-actor", "intrusion-set"))
    identities = {_key(o["name"]): o for o in by_type(bundle, "identity")}
    targets = {(r["source_ref"], r["target_ref"]) for r in links(bundle, "targets")}
    checked = 0
    for event in events:
        arguments = event.get("argument", [])
        attackers = [_key(a["text"]) for a in arguments if a["role"]["type"] == "Attacker"]
        victims = [(a["text"], a.get("type")) for a in arguments if a["role"]["type"] == "Victim"]
        for attacker in attackers:
            if attacker in ("they", "it", "he", "she"):
                continue
            actor = actors[attacker]
            for text, kind in victims:
                if kind not in ("Person", "Organization"):
                    continue
                victim = identities[_key(text)]
                assert victim["identity_class"] == ("individual" if kind == "Person" else "organization")
                assert (actor, victim["id"]) in targets, (path.name, attacker, text)
                checked += 1
    assert checked >= 1
