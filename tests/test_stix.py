"""Tests for threatevents.export.stix: bundle content, patterns, events with review state, OASIS validation."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
import stix2
from stix2validator import ValidationOptions, print_results, validate_string

from threatevents.export.stix import EVENT_SCHEMA, EVENT_TYPE, EXTENSION_ID, IDENTITY_ID, stix_pattern, to_stix_json
from threatevents.indicators import Indicator, extract_indicators
from threatevents.tagging import Review, TaggedSentence

CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def record(
    index: int,
    text: str,
    labels: list[str],
    review: Review | None = None,
    document: str = "report.txt",
    **scores: float,
) -> TaggedSentence:
    """A tagged sentence at offset ``index * 100`` with the indicators found in it (document offsets); ``labels``
    are its labels, the reviewer's when ``review`` is given (``review.predicted`` then holds the model's)."""
    start = index * 100
    found = tuple(i.in_document(index, start) for i in extract_indicators(text))
    return TaggedSentence(
        document, index, start, start + len(text), text, tuple(labels), {**scores, "O": 0.1}, 0, found, review
    )


ANN = Review(False, "ann", ("AttackRansom", "AttackDatabreach"), datetime(2026, 3, 2, tzinfo=UTC))
BOB = Review(True, "bob", ("PatchVulnerability",))
RECORDS = [
    record(
        0,
        "Attackers exploited CVE-2021-44228 from 185.220.101[.]45.",
        ["DiscoverVulnerability"],
        DiscoverVulnerability=0.91,
    ),
    record(1, f"The dropper has SHA-256 {SHA256}.", ["O"]),
    record(
        2,
        "Files were encrypted and a ransom demanded.",
        ["AttackRansom"],
        ANN,
        AttackRansom=0.8,
        AttackDatabreach=0.55,
    ),
    record(3, "The vendor released a fix on Tuesday.", ["PatchVulnerability"], BOB, PatchVulnerability=0.7),
]


def renamed(name: str) -> list[TaggedSentence]:
    return [replace(s, document=name) for s in RECORDS]


def validate(content: str) -> None:
    """The bundle passes the OASIS validator with default options: no errors (warnings are printed)."""
    result = validate_string(content, ValidationOptions())
    print_results(result)
    assert result.is_valid
    assert not result.errors


def objects(content: str, object_type: str) -> list[dict[str, Any]]:
    return [obj for obj in json.loads(content)["objects"] if obj["type"] == object_type]


@pytest.fixture(scope="module")
def bundle_json() -> str:
    return to_stix_json([RECORDS], created=CREATED)


def test_bundle_is_valid_stix(bundle_json: str) -> None:
    validate(bundle_json)


def test_identity_report_and_extension(bundle_json: str) -> None:
    (identity,) = objects(bundle_json, "identity")
    assert identity["id"] == IDENTITY_ID and identity["name"] == "threatevents"
    (report,) = objects(bundle_json, "report")
    assert report["name"] == "report.txt"
    assert report["report_types"] == ["threat-report"]
    assert report["published"].startswith("2026-03-01T12:00:00")
    others = [obj["id"] for obj in json.loads(bundle_json)["objects"] if obj["type"] != "report"]
    assert report["object_refs"] == others
    assert all(obj.get("created_by_ref") == IDENTITY_ID for obj in json.loads(bundle_json)["objects"][1:])
    (extension,) = objects(bundle_json, "extension-definition")
    assert extension["id"] == EXTENSION_ID and extension["extension_types"] == ["new-sdo"]
    assert json.loads(extension["schema"]) == EVENT_SCHEMA


def test_cve_becomes_vulnerability(bundle_json: str) -> None:
    (vulnerability,) = objects(bundle_json, "vulnerability")
    assert vulnerability["name"] == "CVE-2021-44228"
    assert vulnerability["external_references"] == [{"source_name": "cve", "external_id": "CVE-2021-44228"}]


def test_ip_and_hash_become_indicators(bundle_json: str) -> None:
    indicators = {obj["pattern"]: obj for obj in objects(bundle_json, "indicator")}
    assert set(indicators) == {"[ipv4-addr:value = '185.220.101.45']", f"[file:hashes.'SHA-256' = '{SHA256}']"}
    for indicator in indicators.values():
        assert indicator["pattern_type"] == "stix"
        assert indicator["valid_from"].startswith("2026-03-01T12:00:00")
    assert "185.220.101[.]45" in indicators["[ipv4-addr:value = '185.220.101.45']"]["description"]


def test_events_carry_review_state(bundle_json: str) -> None:
    events = {(e["sentence_index"], e["event_type"]): e for e in objects(bundle_json, EVENT_TYPE)}
    # Sentence 2 was relabelled: the reviewer removed AttackDatabreach.
    assert set(events) == {(0, "DiscoverVulnerability"), (2, "AttackRansom"), (3, "PatchVulnerability")}
    first = events[(0, "DiscoverVulnerability")]
    assert first["review_state"] == "unreviewed" and "reviewer" not in first
    assert first["score"] == pytest.approx(0.91)
    assert (first["sentence_text"], first["sentence_start"], first["sentence_end"]) == (
        RECORDS[0].text,
        RECORDS[0].start,
        RECORDS[0].end,
    )
    refs = {obj["id"] for obj in objects(bundle_json, "vulnerability")} | {
        obj["id"] for obj in objects(bundle_json, "indicator") if "185.220" in obj["pattern"]
    }
    assert set(first["object_refs"]) == refs
    relabelled = events[(2, "AttackRansom")]
    assert relabelled["review_state"] == "relabelled" and relabelled["reviewer"] == "ann"
    assert relabelled["predicted_types"] == ["AttackDatabreach", "AttackRansom"]
    assert relabelled["reviewed"].startswith("2026-03-02")
    accepted = events[(3, "PatchVulnerability")]
    assert accepted["review_state"] == "accepted" and accepted["reviewer"] == "bob"
    assert "predicted_types" not in accepted
    assert all(e["extensions"] == {EXTENSION_ID: {"extension_type": "new-sdo"}} for e in events.values())


def test_reexport_is_identical(bundle_json: str) -> None:
    assert to_stix_json([RECORDS], created=CREATED) == bundle_json


def test_other_document_gets_other_ids(bundle_json: str) -> None:
    other = to_stix_json([renamed("other.txt")], created=CREATED)
    ids = {obj["id"] for obj in json.loads(bundle_json)["objects"]}
    other_ids = {obj["id"] for obj in json.loads(other)["objects"]}
    # A CVE is one entity wherever it is named (issue 13: deterministic ids over type + name); the rest differs.
    (vulnerability,) = objects(bundle_json, "vulnerability")
    assert ids & other_ids == {IDENTITY_ID, EXTENSION_ID, vulnerability["id"]}


def test_empty_document_is_valid() -> None:
    content = to_stix_json([[]], created=CREATED)
    validate(content)
    assert {obj["type"] for obj in json.loads(content)["objects"]} == {"identity", "extension-definition", "report"}


def test_document_without_events_or_indicators_is_valid() -> None:
    content = to_stix_json([[record(0, "Nothing happened here.", ["O"], document="quiet.txt")]], created=CREATED)
    validate(content)
    assert not objects(content, EVENT_TYPE) and not objects(content, "indicator")


def test_every_pattern_type_validates() -> None:
    text = (
        "Seen hxxps://evil[.]com/a'b, 2001:db8::1, bad-domain[.]net, ops[@]evil-mail[.]com, "
        "5f4dcc3b5aa765d61d8327deb882cf99, 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12, " + "ab" * 64 + " today."
    )
    rec = record(0, text, ["AttackPhishing"], document="all.txt", AttackPhishing=0.6)
    assert {ind.type for ind in rec.indicators} == {"url", "ipv6", "domain", "email", "md5", "sha1", "sha512"}
    content = to_stix_json([[rec]], created=CREATED)
    validate(content)
    patterns = {obj["pattern"] for obj in objects(content, "indicator")}
    assert "[url:value = 'https://evil.com/a\\'b']" in patterns
    assert "[email-addr:value = 'ops@evil-mail.com']" in patterns
    assert f"[file:hashes.'SHA-512' = '{'ab' * 64}']" in patterns
    (event,) = objects(content, EVENT_TYPE)
    assert len(event["object_refs"]) == len(rec.indicators)


def test_indicator_descriptions_give_document_offsets(bundle_json: str) -> None:
    (ip,) = [obj for obj in objects(bundle_json, "indicator") if "185.220" in obj["pattern"]]
    start = RECORDS[0].text.index("185.")
    assert f"at characters {start}-{start + len('185.220.101[.]45')}" in ip["description"]


def test_stix_pattern_escapes_quotes_and_backslashes() -> None:
    assert stix_pattern(Indicator("url", "http://a.com/x\\'y", "")) == "[url:value = 'http://a.com/x\\\\\\'y']"


def test_bundle_parses_back_with_stix2(bundle_json: str) -> None:
    bundle = stix2.parse(bundle_json, allow_custom=True)
    assert {type(obj).__name__ for obj in bundle.objects} >= {"Report", "Vulnerability", "Indicator", "ThreatEvent"}


def test_reviewer_can_add_an_event_the_model_missed() -> None:
    review = Review(False, "eve", ("O",), datetime(2026, 3, 3, 8, 0))
    rec = record(0, "Customer records were posted online.", ["AttackDatabreach"], review, document="missed.txt")
    content = to_stix_json([[rec]], created=CREATED)
    validate(content)
    (event,) = objects(content, EVENT_TYPE)
    assert (event["event_type"], event["review_state"], event["reviewer"]) == ("AttackDatabreach", "relabelled", "eve")
    assert "predicted_types" not in event and "score" not in event
    assert event["reviewed"].startswith("2026-03-03T08:00:00")


def test_rejected_detection_exports_no_event() -> None:
    review = Review(False, "eve", ("AttackPhishing",))
    rec = record(0, "The weather was fine.", ["O"], review, document="fine.txt", AttackPhishing=0.51)
    content = to_stix_json([[rec]])
    validate(content)
    assert not objects(content, EVENT_TYPE)


def test_one_bundle_holds_a_report_per_document() -> None:
    """Issue 10 defect 9: several documents make one valid bundle with one report each, objects not mixed."""
    content = to_stix_json([RECORDS, renamed("other.txt"), renamed("report.txt")], created=CREATED)
    validate(content)
    reports = objects(content, "report")
    assert [r["name"] for r in reports] == ["report.txt", "other.txt", "report.txt"]
    assert len({r["id"] for r in reports}) == 3  # a repeated name still gets its own report
    ids = [obj["id"] for obj in json.loads(content)["objects"]]
    assert len(ids) == len(set(ids))
    for report in reports:
        own = set(report["object_refs"]) - {IDENTITY_ID, EXTENSION_ID}
        assert len(objects_in(content, own, EVENT_TYPE)) == 3  # 3 events per copy of the document
    assert sum(1 for obj in json.loads(content)["objects"] if obj["type"] == "identity") == 1


def objects_in(content: str, ids: set[str], object_type: str) -> list[dict[str, Any]]:
    return [obj for obj in objects(content, object_type) if obj["id"] in ids]
