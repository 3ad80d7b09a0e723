"""Indicators of compromise (IOCs) mentioned in a sentence: CVE ids, IP addresses, domains, URLs, hashes, e-mails.

Public API (pure functions, safe to call from several threads)::

    extract_indicators(text: str) -> list[Indicator]
    indicators_for_sentences(texts: Iterable[str]) -> list[list[Indicator]]
    document_indicators(per_sentence: Iterable[Iterable[Indicator]]) -> list[Indicator]
    warm_up() -> None   # optional: pay ioc-finder's first-call cost now (a server calls it at start-up)

``Indicator.type`` is one of :data:`INDICATOR_TYPES`; ``value`` is the refanged canonical form
(``hxxps[:]//evil[.]com/A`` -> ``https://evil.com/A``, hashes and domains lower-case, CVE ids upper-case);
``raw`` is the text as written, with ``start``/``end`` character offsets into the text searched when found.
:func:`extract_indicators` works on one sentence; :meth:`Indicator.in_document` moves an indicator to document
offsets and records its ``sentence`` index, the form every export and the service use (so that
``document_text[start:end] == raw``).

Extraction is done by `ioc-finder <https://github.com/fhightower/ioc-finder>`_, chosen over ``iocextract`` by
measurement (``python benchmarks/bench_ioc_extractors.py``): it covers every type we need (iocextract has no
domains or CVE ids) and reads the common defanged forms. On top of it this module only

* canonicalises values and locates each one in the sentence (ioc-finder returns values, not offsets);
* drops a domain or IP address that is only the host of a URL or e-mail of the same sentence;
* drops plain-written look-alikes common in prose: dotted quads that read as versions (a version word such
  as "versions"/"build"/"patched" shortly before, "and earlier" after, a ``v`` prefix, a leading zero, or
  another version number like ``6.5.x`` in the sentence), file names whose extension is also a TLD
  (``payload.zip``, ``install.sh``), and words whose "TLD" is capitalised (``ASP.NET``, ``last week.It``).
  Defanged mentions are always kept: defanging is the writer saying "this is an indicator".

Thread safety: ioc-finder's grammars are module-level pyparsing objects, and pyparsing works out the arity
of each parse action on its first call by trial and error (``_trim_arity``); two threads making that first
call at once can fix the wrong arity for good, after which every call raises ``TypeError``. So every call
into ioc-finder holds :data:`_FINDER_LOCK`. It costs no throughput: ioc-finder is pure Python and holds
the GIL throughout, so two threads never ran it faster than one.
"""

from __future__ import annotations

import ipaddress
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

INDICATOR_TYPES: tuple[str, ...] = ("cve", "ipv4", "ipv6", "domain", "url", "md5", "sha1", "sha256", "sha512", "email")

#: ioc-finder result key -> our indicator type.
_FINDER_TYPES: dict[str, str] = {
    "cves": "cve",
    "ipv4s": "ipv4",
    "ipv6s": "ipv6",
    "domains": "domain",
    "urls": "url",
    "md5s": "md5",
    "sha1s": "sha1",
    "sha256s": "sha256",
    "sha512s": "sha512",
    "email_addresses": "email",
}

#: TLDs that are far more often file extensions in threat-report prose (``payload.zip``, ``run.sh``).
FILE_EXTENSION_TLDS = frozenset({"zip", "mov", "py", "sh", "so", "cab", "one", "md", "properties"})

# A plain dotted quad is taken for a version number when one of these is near it or in its sentence.
_VERSION_WINDOW = 80  # characters before the quad searched for _VERSION_WORDS
_VERSION_WORDS = re.compile(r"\b(?:versions?|ver|builds?|releases?|firmware|patch(?:ed|es)?|upgrade[sd]?)\b", re.I)
_EARLIER_LATER = re.compile(r"\s*,?\s*(?:and|or)\s+(?:\w+\s+)?(?:earlier|later|older|newer|above|below)\b", re.I)
_VERSION_TRIPLE = re.compile(r"(?<![\d.\])}])\d+\.\d+\.(?:\d+|x)(?![.\d[({])")  # 2.3.32 or 6.5.x in the same sentence
_LEADING_ZERO = re.compile(r"(?<!\d)0\d")
_DEFANG_MARKERS = re.compile(r"[\[({]|hxxp|fxp|\sdot\s|\sat\s", re.I)

# How each canonical character may be written defanged (matched case-insensitively).
_DEFANGED_CHARS: dict[str, str] = {
    ".": r"(?:\.|\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\{dot\}|\s\[dot\]\s|\s\(dot\)\s)",
    "@": r"(?:@|\[@\]|\(@\)|\{@\}|\[at\]|\(at\)|\{at\}|\s\[at\]\s|\s\(at\)\s)",
    ":": r"(?::|\[:\]|\(:\))",
}
_SCHEME = re.compile(r"^(h(?:tt|xx)ps?|ftp|fxp)://", re.I)

#: Serialises every call into ioc-finder (see the module docstring: pyparsing's first calls are not thread-safe).
_FINDER_LOCK = threading.Lock()
#: One of each indicator type, defanged and plain, so that :func:`warm_up` runs every grammar ioc-finder uses.
_WARM_UP_TEXT = (
    "CVE-2024-1234 hit 185.220.101.4, 10[.]0[.]0[.]1 and 2001:db8::1 via evil.com, bad[.]example[.]net, "
    "https://evil.com/a?b=1 and hxxp://x[.]org/p; mail ops@example.com or x[at]example[.]org; hashes "
    "d41d8cd98f00b204e9800998ecf8427e da39a3ee5e6b4b0d3255bfef95601890afd80709 "
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 "
    "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
    "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e."
)


@dataclass(frozen=True)
class Indicator:
    """One indicator of compromise.

    ``start``/``end`` are offsets of ``raw`` in the text searched, or ``None`` when it could not be located:
    sentence offsets from :func:`extract_indicators` (``sentence`` is ``None``), document offsets once
    :meth:`in_document` placed it (``sentence`` is then the 0-based index of the sentence it is in).
    """

    type: str
    value: str
    raw: str
    start: int | None = None
    end: int | None = None
    sentence: int | None = None

    def in_document(self, sentence: int, sentence_start: int) -> Indicator:
        """This sentence-level indicator with document offsets (``sentence_start`` = the sentence's own start)."""
        if self.sentence is not None:
            return self
        start = None if self.start is None else self.start + sentence_start
        end = None if self.end is None else self.end + sentence_start
        return Indicator(self.type, self.value, self.raw, start, end, sentence)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], sentence: int, sentence_start: int) -> Indicator:
        """Read :meth:`to_dict` back; a record without ``sentence`` holds sentence offsets (stored before
        indicators carried document offsets) and is placed at ``sentence``/``sentence_start``."""
        indicator = cls(
            data["type"], data["value"], data["raw"], data.get("start"), data.get("end"), data.get("sentence")
        )
        return indicator.in_document(sentence, sentence_start)

    @property
    def defanged(self) -> bool:
        """True when written in a defanged form (``1.2.3[.]4``, ``hxxp://``, ``user[at]example.com``)."""
        return bool(_DEFANG_MARKERS.search(self.raw))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "value": self.value,
            "raw": self.raw,
            "start": self.start,
            "end": self.end,
            "sentence": self.sentence,
        }


def canonical_value(ioc_type: str, value: str) -> str:
    """The canonical form of a (refanged) value: how equal indicators compare and are exported."""
    value = value.strip()
    if ioc_type == "cve":
        return value.upper()
    if ioc_type in ("domain", "md5", "sha1", "sha256", "sha512"):
        return value.lower().rstrip(".")
    if ioc_type in ("ipv4", "ipv6"):
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            return value.lower()
    if ioc_type == "email":
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"
    if ioc_type == "url":
        return _canonical_url(value)
    raise ValueError(f"unknown indicator type {ioc_type!r}; expected one of {INDICATOR_TYPES}")


def _canonical_url(url: str) -> str:
    """Refang the scheme (``hxxp`` -> ``http``) and lower-case scheme and host; keep path and query as written.

    Sentence punctuation glued to the end (``.../logo.png.``) is dropped, as is a ``)`` with no ``(`` in the URL.
    """
    url = url.rstrip(".,;:!?'\"")
    if url.endswith(")") and url.count("(") < url.count(")"):
        url = url[:-1]
    match = _SCHEME.match(url)
    scheme = ""
    if match:
        scheme = match.group(1).lower().replace("hxxp", "http").replace("fxp", "ftp") + "://"
        url = url[match.end() :]
    host_end = match.start() if (match := re.search(r"[/?#]", url)) else len(url)
    return scheme + url[:host_end].lower() + url[host_end:]


@lru_cache(maxsize=4096)
def _locator(ioc_type: str, value: str) -> re.Pattern[str]:
    """A regex finding ``value`` as written in text, defanged or not."""
    body = value
    prefix = ""
    if ioc_type == "url" and (match := _SCHEME.match(value)):
        scheme = match.group(1).lower()
        prefix = re.sub("^h(?:tt|xx)p", "h(?:tt|xx)p", re.escape(scheme)) + r"(?:\[?:\]?|\(:\))(?://|\[//\])"
        body = value[match.end() :]
    if ioc_type == "ipv4":  # ioc-finder reads 3.04.05.05 as 3.4.5.5
        pattern = _DEFANGED_CHARS["."].join("0*" + octet for octet in value.split("."))
    else:
        pattern = prefix + "".join(_DEFANGED_CHARS.get(char, re.escape(char)) for char in body)
    # Do not match inside a longer token: 1.2.3.4 in 11.2.3.45, evil.com in my-evil.com.
    before = r"(?<![0-9.])" if value[0].isdigit() else r"(?<![\w.-])"
    after = r"(?![0-9])" if value[-1].isdigit() else r"(?![\w-])"
    return re.compile(before + pattern + after, re.I)


def _spans(ioc_type: str, value: str, text: str) -> list[tuple[int, int]]:
    return [match.span() for match in _locator(ioc_type, value).finditer(text)]


def _is_version_number(text: str, start: int, end: int) -> bool:
    """A plain dotted quad ``text[start:end]`` that reads as a software version (``versions before 2.5.0.15``)."""
    before = text[max(0, start - _VERSION_WINDOW) : start]
    after = text[end : end + 30]
    return bool(
        _LEADING_ZERO.search(text[start:end])
        or _VERSION_WORDS.search(before)
        or before.endswith(("v", "V"))
        or _EARLIER_LATER.match(after)
        or _VERSION_TRIPLE.search(text)
    )


def _is_file_or_word(host: str) -> bool:
    """A plain-written host whose "TLD" is a file extension (``payload.zip``) or capitalised (``ASP.NET``)."""
    tld = host.rsplit(".", 1)[-1]
    return tld.lower() in FILE_EXTENSION_TLDS or tld != tld.lower()


def _is_false_positive(indicator: Indicator, text: str) -> bool:
    """Plain-written look-alikes of IPv4 addresses, domains and scheme-less URLs (see module docstring)."""
    if indicator.start is None or indicator.end is None or indicator.defanged:
        return False
    if indicator.type == "ipv4":
        return _is_version_number(text, indicator.start, indicator.end)
    if indicator.type == "domain":
        return _is_file_or_word(indicator.raw)
    if indicator.type == "url" and not _SCHEME.match(indicator.raw):
        return _is_file_or_word(re.split(r"[/?#]", indicator.raw, maxsplit=1)[0])
    return False


def _inside(span: tuple[int, int], containers: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in containers)


def extract_indicators(text: str) -> list[Indicator]:
    """Indicators of compromise in ``text``, deduplicated by (type, value), in order of first mention."""
    from ioc_finder import find_iocs  # imported on first use: it takes a second to load

    with _FINDER_LOCK:
        found = find_iocs(
            text,
            included_ioc_types=list(_FINDER_TYPES),
            parse_domain_from_url=False,
            parse_domain_from_email_address=False,
            parse_from_url_path=False,
        )
    candidates: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for key, ioc_type in _FINDER_TYPES.items():
        for raw_value in found.get(key, ()):
            value = canonical_value(ioc_type, str(raw_value))
            candidates.setdefault((ioc_type, value), _spans(ioc_type, value, text))
    containers = [span for (ioc_type, _), spans in candidates.items() if ioc_type in ("url", "email") for span in spans]
    indicators = []
    for (ioc_type, value), spans in candidates.items():
        if ioc_type in ("domain", "ipv4", "ipv6") and spans:
            spans = [span for span in spans if not _inside(span, containers)]
            if not spans:  # only ever the host of a URL or e-mail of this sentence
                continue
        if spans:
            start, end = spans[0]
            indicator = Indicator(ioc_type, value, text[start:end], start, end)
        else:
            indicator = Indicator(ioc_type, value, value)
        if not _is_false_positive(indicator, text):
            indicators.append(indicator)
    indicators.sort(key=lambda ind: (ind.start is None, ind.start or 0, INDICATOR_TYPES.index(ind.type)))
    return indicators


def warm_up() -> None:
    """Run every kind of indicator through ioc-finder once, so that the first real call is not the slow one."""
    extract_indicators(_WARM_UP_TEXT)


def indicators_for_sentences(texts: Iterable[str]) -> list[list[Indicator]]:
    """:func:`extract_indicators` for each sentence of a document."""
    return [extract_indicators(text) for text in texts]


def document_indicators(per_sentence: Iterable[Iterable[Indicator]]) -> list[Indicator]:
    """The distinct indicators of a document (by type and value), each as first mentioned."""
    seen: dict[tuple[str, str], Indicator] = {}
    for indicators in per_sentence:
        for indicator in indicators:
            seen.setdefault((indicator.type, indicator.value), indicator)
    return list(seen.values())
