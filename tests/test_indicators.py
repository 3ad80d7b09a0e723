"""Tests for threatevents.indicators: extraction, refanging, offsets, false-positive filters, dedupe."""

from __future__ import annotations

import pytest

from threatevents.indicators import (
    INDICATOR_TYPES,
    Indicator,
    canonical_value,
    document_indicators,
    extract_indicators,
    indicators_for_sentences,
)


def pairs(text: str) -> set[tuple[str, str]]:
    return {(ind.type, ind.value) for ind in extract_indicators(text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tracked as cve-2021-44228 and CVE-2022-41040.", {("cve", "CVE-2021-44228"), ("cve", "CVE-2022-41040")}),
        ("Beacons went to 185.220.101.45 daily.", {("ipv4", "185.220.101.45")}),
        ("The host 2001:db8:85a3::8a2e:370:7334 served it.", {("ipv6", "2001:db8:85a3::8a2e:370:7334")}),
        ("They registered paypa1-support.com last week.", {("domain", "paypa1-support.com")}),
        ("Download from https://files.example.net/a/b?x=1 now.", {("url", "https://files.example.net/a/b?x=1")}),
        ("Write to ransom-help@protonmail.com today.", {("email", "ransom-help@protonmail.com")}),
        ("MD5 5F4DCC3B5AA765D61D8327DEB882CF99 seen.", {("md5", "5f4dcc3b5aa765d61d8327deb882cf99")}),
        (
            "SHA-1 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12 seen.",
            {("sha1", "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12")},
        ),
        (
            "SHA-256 e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 seen.",
            {("sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")},
        ),
        ("Nothing to see in this plain sentence about a breach.", set()),
    ],
)
def test_extracts_each_type(text: str, expected: set[tuple[str, str]]) -> None:
    assert pairs(text) == expected


def test_sha512() -> None:
    digest = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce" * 2
    assert pairs(f"The archive hash is {digest}.") == {("sha512", digest)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Beacon to 1.2.3[.]4 seen.", ("ipv4", "1.2.3.4", "1.2.3[.]4")),
        ("Fetched hxxps[:]//evil[.]com/x.bin today.", ("url", "https://evil.com/x.bin", "hxxps[:]//evil[.]com/x.bin")),
        ("Fetched hxxp://evil[.]com/a today.", ("url", "http://evil.com/a", "hxxp://evil[.]com/a")),
        ("Mail user[@]example[.]com now.", ("email", "user@example.com", "user[@]example[.]com")),
        ("Mail admin(at)corp-mail[.]com now.", ("email", "admin@corp-mail.com", "admin(at)corp-mail[.]com")),
        ("Hosted on example[.]com since May.", ("domain", "example.com", "example[.]com")),
        ("Hosted on bad-site[dot]info since May.", ("domain", "bad-site.info", "bad-site[dot]info")),
    ],
)
def test_defanged_forms_are_refanged_and_located(text: str, expected: tuple[str, str, str]) -> None:
    (indicator,) = extract_indicators(text)
    assert (indicator.type, indicator.value, indicator.raw) == expected
    assert indicator.defanged
    assert indicator.start is not None and text[indicator.start : indicator.end] == indicator.raw


def test_offsets_point_at_each_indicator_in_order() -> None:
    text = "CVE-2024-3400 was used from 198.51.100.23 against vpn.example.org."
    found = extract_indicators(text)
    assert [ind.type for ind in found] == ["cve", "ipv4", "domain"]
    for ind in found:
        assert ind.start is not None and text[ind.start : ind.end] == ind.raw
        assert not ind.defanged


@pytest.mark.parametrize(
    "text",
    [
        "Users should upgrade to version 2.4.1.3 of the client.",
        "The bug was fixed in v10.0.19041.1 and later builds.",
        "The affected releases include 31.0.0.122 and earlier.",
        "Flash Player 29.0.0.171 and other earlier versions are affected.",
        "The fix is 3.04.05.05 for the panel.",
        "Branches 6.5.x before 6.5.3 and 6.2.x before 6.2.13.1 are affected.",
    ],
)
def test_version_numbers_are_not_ip_addresses(text: str) -> None:
    assert not {t for t, _ in pairs(text)} & {"ipv4"}


def test_defanged_ip_is_kept_even_in_version_context() -> None:
    assert ("ipv4", "10.0.0.5") in pairs("The new version talks to 10.0.0[.]5 over TLS.")


@pytest.mark.parametrize(
    "text",
    [
        "The archive payload.zip held install.sh and exploit.py.",
        "Affected products include ASP.NET Core.",
        "The breach was contained last week.It affected many customers.",
        "Groups, e.g. LockBit, target hospitals, i.e. critical services.",
        "The attachment invoice.pdf dropped update.exe.",
        "Detected as Trojan.Android/Spy.Banker.HU by the vendor.",
    ],
)
def test_prose_look_alikes_are_dropped(text: str) -> None:
    assert pairs(text) == set()


def test_defanged_file_extension_domain_is_kept() -> None:
    assert pairs("Payloads came from update-server[.]zip yesterday.") == {("domain", "update-server.zip")}


def test_domain_of_url_or_email_is_not_repeated() -> None:
    assert pairs("See https://evil.com/a and write to bob@corp.com.") == {
        ("url", "https://evil.com/a"),
        ("email", "bob@corp.com"),
    }


def test_ip_host_of_url_is_not_repeated() -> None:
    assert pairs("Payload at http://45.61.136.12:8080/x.exe today.") == {("url", "http://45.61.136.12:8080/x.exe")}


def test_domain_mentioned_apart_from_its_url_is_kept() -> None:
    found = pairs("The site evil.com served https://evil.com/kit.zip to visitors.")
    assert found == {("domain", "evil.com"), ("url", "https://evil.com/kit.zip")}


def test_url_loses_trailing_sentence_punctuation() -> None:
    assert pairs("It came from hxxp://cdn-files[.]xyz/logo.png.") == {("url", "http://cdn-files.xyz/logo.png")}


def test_duplicates_within_a_sentence_collapse_to_first_mention() -> None:
    found = extract_indicators("Seen 1.2.3[.]4 then 1.2.3.4 again.")
    assert [(ind.value, ind.raw, ind.start) for ind in found] == [("1.2.3.4", "1.2.3[.]4", 5)]


@pytest.mark.parametrize(
    ("ioc_type", "raw", "canonical"),
    [
        ("cve", "cve-2020-0796", "CVE-2020-0796"),
        ("domain", "Example.COM.", "example.com"),
        ("ipv6", "2001:DB8:0:0:0:0:0:1", "2001:db8::1"),
        ("email", "Bob.Smith@Example.COM", "Bob.Smith@example.com"),
        ("url", "HXXPS://Evil.COM/Path/A)", "https://evil.com/Path/A"),
        ("url", "https://en.example.org/wiki/A_(b)", "https://en.example.org/wiki/A_(b)"),
        ("md5", "5F4DCC3B5AA765D61D8327DEB882CF99", "5f4dcc3b5aa765d61d8327deb882cf99"),
    ],
)
def test_canonical_value(ioc_type: str, raw: str, canonical: str) -> None:
    assert canonical_value(ioc_type, raw) == canonical


def test_canonical_value_rejects_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown indicator type"):
        canonical_value("asn", "AS1234")


def test_every_extracted_type_is_declared() -> None:
    text = "CVE-2020-0796 1.2.3.4 ::ffff:1:2 a-b.com https://x.org/y a@b.com " + "a" * 32
    assert {ind.type for ind in extract_indicators(text)} <= set(INDICATOR_TYPES)


def test_to_dict_round_trips() -> None:
    indicator = Indicator("ipv4", "1.2.3.4", "1.2.3[.]4", 3, 12)
    assert Indicator(**indicator.to_dict()) == indicator


def test_sentences_and_document_dedupe() -> None:
    per_sentence = indicators_for_sentences(
        ["Attack from 1.2.3[.]4 using CVE-2020-0796.", "No indicators here.", "Again 1.2.3.4 and evil.com."]
    )
    assert [len(found) for found in per_sentence] == [2, 0, 2]
    doc = document_indicators(per_sentence)
    assert [(ind.type, ind.value) for ind in doc] == [
        ("ipv4", "1.2.3.4"),
        ("cve", "CVE-2020-0796"),
        ("domain", "evil.com"),
    ]
    assert doc[0].raw == "1.2.3[.]4"  # first mention wins


def test_in_document_and_from_dict_give_document_offsets() -> None:
    text = "Intro line.\nThe C2 was 1.2.3[.]4 today."
    sentence_start = text.index("The")
    (found,) = extract_indicators(text[sentence_start:])
    placed = found.in_document(1, sentence_start)
    assert (placed.sentence, text[placed.start : placed.end]) == (1, "1.2.3[.]4")
    assert placed.in_document(1, sentence_start) == placed  # placing twice does not shift again
    old = {k: v for k, v in found.to_dict().items() if k != "sentence"}  # stored before document offsets
    assert Indicator.from_dict(old, 1, sentence_start) == placed
    assert Indicator.from_dict(placed.to_dict(), 1, sentence_start) == placed
