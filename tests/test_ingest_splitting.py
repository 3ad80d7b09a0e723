"""Sentence splitting never cuts an indicator or a dotted token (issue 10, defect 1).

Punkt ends a sentence at a period followed by a space or a bracket, so a defanged IP such as
``10.20.30[.]40`` used to become ``...10.20.30[.`` and ``]40 ...``, and the indicator was lost. The
property tests build sentences around generated indicators (defanged or not), versions and file names and
check that each token lies inside one sentence and that the offsets still index the text.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from threatevents.ingest import ingest_text, split_sentences
from threatevents.ingest.sentences import protected_tokens

DOT = st.sampled_from([".", "[.]", "(.)", "{.}", "[dot]", "(dot)"])
OCTET = st.integers(0, 255).map(str)
LABEL = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)
TLD = st.sampled_from(["com", "net", "org", "ru", "co", "io", "info"])


@st.composite
def ips(draw: st.DrawFn) -> str:
    octets = [draw(OCTET) for _ in range(4)]
    ip = octets[0] + "".join(draw(DOT) + octet for octet in octets[1:])
    return ip + draw(st.sampled_from(["", ":443", "[:]8080", "(:)53"]))


@st.composite
def domains(draw: st.DrawFn) -> str:
    labels = [*draw(st.lists(LABEL, min_size=1, max_size=3)), draw(TLD)]
    return labels[0] + "".join(draw(DOT) + label for label in labels[1:])


@st.composite
def urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["hxxp", "hxxps", "http", "https", "hXXp"]))
    separator = draw(st.sampled_from(["://", "[://]", "[:]//"]))
    host = draw(st.one_of(domains(), ips()))
    path = draw(st.sampled_from(["", "/", "/gate.php", "/a/b/payload.bin?id=7", "/download/update.exe"]))
    return f"{scheme}{separator}{host}{path}"


@st.composite
def emails(draw: st.DrawFn) -> str:
    return draw(LABEL) + draw(st.sampled_from(["@", "[@]", "(@)", "[at]"])) + draw(domains())


VERSIONS = st.lists(st.integers(0, 99).map(str), min_size=2, max_size=4).map(".".join)
FILENAMES = st.tuples(
    st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,12}", fullmatch=True),
    st.lists(st.sampled_from(["docx", "exe", "pdf", "js", "dll", "zip", "lnk", "ps1"]), min_size=1, max_size=2),
).map(lambda parts: ".".join([parts[0], *parts[1]]))
TOKENS = st.one_of(ips(), domains(), urls(), emails(), VERSIONS, FILENAMES, VERSIONS.map("v{}".format))
WORDS = st.lists(
    st.sampled_from(["the", "implant", "contacted", "server", "daily", "at", "version", "file", "Acme", "sent"]),
    min_size=1,
    max_size=6,
).map(" ".join)
# Where the token sits: {t} is the token, {w} some words.
TEMPLATES = st.sampled_from(
    [
        "The C2 server at {t} was contacted by the {w}.",
        "The {w} reached {t}. Then it stopped.",
        "{t} was seen in the {w} logs. It was blocked.",
        "Analysts saw ({t}) in the {w}. More followed.",
        'The lure was named "{t}" and {w}. It spread.',
        "Upgrade to {t}, then {w}! Nothing else.",
        "Was it {t}? The {w} say so.",
    ]
)


def _assert_token_whole(text: str, token: str) -> None:
    start = text.index(token)
    end = start + len(token)
    sentences = split_sentences(text)
    for span in sentences:
        assert text[span.start : span.end] == span.text
    holding = [s for s in sentences if s.start <= start and end <= s.end]
    assert holding, f"{token!r} was cut: {[s.text for s in sentences]}"
    # The sentence end after the token is still found: the template's last sentence stands alone.
    assert len(sentences) >= 2 or text.count(". ") + text.count("! ") + text.count("? ") == 0


def test_defanged_ip_from_the_issue_stays_in_its_sentence() -> None:
    text = "The C2 server at 10.20.30[.]40 was contacted by the implant daily.\n"
    doc = ingest_text(text)
    assert doc.texts == ["The C2 server at 10.20.30[.]40 was contacted by the implant daily."]


def test_defanged_forms_and_dotted_tokens_are_kept_whole() -> None:
    for token in [
        "10.20.30[.]40",
        "10.20.30(.)40",
        "10.20.30{.}40",
        "10.0.0[.]1[:]8080",
        "hxxp://1.2.3[.]4/x.exe",
        "hxxps[://]evil[.]com/gate.php",
        "admin[@]evil[.]com",
        "evil[dot]com",
        "invoice.docx.exe",
        "1.2.3",
    ]:
        _assert_token_whole(f"The C2 server at {token} was contacted by the implant daily. It stopped.", token)


def test_a_period_after_a_token_still_ends_the_sentence() -> None:
    text = "The implant reached 10.20.30[.]40. The second stage came from evil[.]com. Version 1.2.3 was patched."
    assert [s.text for s in split_sentences(text)] == [
        "The implant reached 10.20.30[.]40.",
        "The second stage came from evil[.]com.",
        "Version 1.2.3 was patched.",
    ]


def test_protected_tokens_leave_out_trailing_punctuation_but_not_a_defanged_separator() -> None:
    line = 'See evil[.]com, "1.2.3". And x[.]'
    assert [line[a:b] for a, b in protected_tokens(line)] == ["evil[.]com", '"1.2.3', "x[.]"]


@settings(max_examples=300, deadline=None)
@given(token=TOKENS, template=TEMPLATES, words=WORDS)
def test_no_sentence_boundary_falls_inside_a_token(token: str, template: str, words: str) -> None:
    _assert_token_whole(template.format(t=token, w=words), token)


@settings(max_examples=100, deadline=None)
@given(tokens=st.lists(TOKENS, min_size=1, max_size=8), words=WORDS)
def test_many_tokens_in_a_long_line_keep_offsets(tokens: list[str], words: str) -> None:
    text = " ".join(f"The {words} used {token}. Then {token} again." for token in tokens)
    sentences = split_sentences(text)
    for span in sentences:
        assert text[span.start : span.end] == span.text
    boundaries = {s.end for s in sentences} | {s.start for s in sentences}
    for a, b in protected_tokens(text):
        assert not any(a < point < b for point in boundaries), text[a:b]
