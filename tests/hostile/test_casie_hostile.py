"""Hostile CASIE annotation files: every bad input is a counted skip by default or a CasieError naming the file
with ``strict``; nothing else escapes the reader, the trigger aligner or the event scorer."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threatevents.casie import align_triggers
from threatevents.corpus import Document, Sentence
from threatevents.events import CasieError, ReadReport, read_event_dir, read_event_file

pytestmark = pytest.mark.hostile

TEXT = "Hackers stole the data of Acme. Acme fixed the bug."


def good() -> dict[str, Any]:
    return {
        "content": TEXT,
        "cyberevent": {
            "hopper": [
                {
                    "index": 0,
                    "events": [
                        {
                            "index": "E1",
                            "type": "Attack",
                            "subtype": "Databreach",
                            "realis": "Actual",
                            "nugget": {"startOffset": 8, "endOffset": 13, "text": "stole"},
                            "argument": [
                                {"startOffset": 0, "endOffset": 7, "text": "Hackers", "role": {"type": "Attacker"}},
                                {"startOffset": 26, "endOffset": 30, "text": "Acme", "role": {"type": "Victim"}},
                            ],
                        },
                        {
                            "index": "E2",
                            "type": "Vulnerability-related",
                            "subtype": "PatchVulnerability",
                            "realis": "Actual",
                            "nugget": {"startOffset": 37, "endOffset": 42, "text": "fixed"},
                        },
                    ],
                }
            ]
        },
    }


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def event(data: dict[str, Any], n: int = 0) -> dict[str, Any]:
    result: dict[str, Any] = data["cyberevent"]["hopper"][0]["events"][n]
    return result


def nugget(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = event(data)["nugget"]
    return result


def argument(data: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = event(data)["argument"][0]
    return result


Edit = Callable[[dict[str, Any]], object]

# (what is broken, the edit, what is dropped: the "event" E1, its first "argument", or an "extra" element added by the
# edit; the reason counted)
BAD_ELEMENTS: list[tuple[str, Edit, str, str]] = [
    ("trigger offsets missing", lambda d: nugget(d).pop("startOffset"), "event", "offsets missing or not integers"),
    (
        "trigger offsets as strings",
        lambda d: nugget(d).update(startOffset="8"),
        "event",
        "offsets missing or not integers",
    ),
    (
        "trigger offsets as booleans",
        lambda d: nugget(d).update(endOffset=True),
        "event",
        "offsets missing or not integers",
    ),
    (
        "trigger offsets as floats",
        lambda d: nugget(d).update(endOffset=13.0),
        "event",
        "offsets missing or not integers",
    ),
    ("trigger past the end", lambda d: nugget(d).update(startOffset=48, endOffset=60), "event", "offsets out of range"),
    (
        "trigger offsets huge",
        lambda d: nugget(d).update(startOffset=10**30, endOffset=10**30 + 5),
        "event",
        "offsets out of range",
    ),
    (
        "trigger offsets negative",
        lambda d: nugget(d).update(startOffset=-5, endOffset=-1),
        "event",
        "offsets out of range",
    ),
    (
        "trigger end before start",
        lambda d: nugget(d).update(startOffset=13, endOffset=8),
        "event",
        "offsets out of range",
    ),
    ("trigger text elsewhere", lambda d: nugget(d).update(text="Acme"), "event", "span text does not match"),
    ("trigger text not a string", lambda d: nugget(d).update(text=["stole"]), "event", "malformed element"),
    ("nugget missing", lambda d: event(d).pop("nugget"), "event", "malformed element"),
    ("nugget a string", lambda d: event(d).update(nugget="stole"), "event", "malformed element"),
    ("unknown subtype", lambda d: event(d).update(subtype="Discover"), "event", "unknown type/subtype"),
    (
        "type and subtype mixed up",
        lambda d: event(d).update(type="Attack", subtype="PatchVulnerability"),
        "event",
        "unknown type/subtype",
    ),
    ("subtype a list", lambda d: event(d).update(subtype=["Databreach"]), "event", "unknown type/subtype"),
    ("unknown realis", lambda d: event(d).update(realis="Maybe"), "event", "unknown realis"),
    ("realis missing", lambda d: event(d).pop("realis"), "event", "unknown realis"),
    ("realis a dict", lambda d: event(d).update(realis={}), "event", "unknown realis"),
    ("score not a number", lambda d: event(d).update(score="high"), "event", "malformed element"),
    ("score NaN", lambda d: event(d).update(score=float("nan")), "event", "malformed element"),
    (
        "event a string",
        lambda d: d["cyberevent"]["hopper"][0]["events"].insert(0, "E1"),
        "extra event",
        "malformed element",
    ),
    ("hopper a number", lambda d: d["cyberevent"]["hopper"].insert(0, 7), "extra event", "malformed element"),
    (
        "hopper events not a list",
        lambda d: d["cyberevent"]["hopper"].append({"events": "E9"}),
        "extra event",
        "malformed element",
    ),
    ("unknown role", lambda d: argument(d).update(role={"type": "Boss"}), "argument", "unknown role"),
    ("role missing", lambda d: argument(d).pop("role"), "argument", "unknown role"),
    ("role a list", lambda d: argument(d).update(role=[{"type": "Attacker"}]), "argument", "unknown role"),
    ("role type unhashable", lambda d: argument(d).update(role={"type": ["Attacker"]}), "argument", "unknown role"),
    ("argument offsets missing", lambda d: argument(d).pop("endOffset"), "argument", "offsets missing or not integers"),
    (
        "argument past the end",
        lambda d: argument(d).update(startOffset=50, endOffset=57),
        "argument",
        "offsets out of range",
    ),
    ("argument text elsewhere", lambda d: argument(d).update(text="Acme"), "argument", "span text does not match"),
    ("argument a number", lambda d: event(d)["argument"].insert(0, 3), "extra argument", "malformed element"),
]


@pytest.mark.parametrize(("what", "edit", "dropped", "reason"), BAD_ELEMENTS, ids=[case[0] for case in BAD_ELEMENTS])
def test_bad_element_is_counted_or_refused(tmp_path: Path, what: str, edit: Edit, dropped: str, reason: str) -> None:
    data = good()
    edit(data)
    path = write(tmp_path, "bad.json", data)
    report = ReadReport()
    document = read_event_file(path, report=report)
    counted = report.dropped_events if dropped.endswith("event") else report.dropped_arguments
    assert dict(counted) == {reason: 1}, what
    assert len(report.problems) == 1 and report.problems[0].startswith(str(path))
    # the rest of the file is read
    assert [e.id for e in document.events] == (["E2"] if dropped == "event" else ["E1", "E2"])
    if dropped.endswith("argument"):
        assert [a.text for a in document.events[0].arguments] == (
            ["Acme"] if dropped == "argument" else ["Hackers", "Acme"]
        )
    with pytest.raises(CasieError, match=r"bad\.json: .*" + reason):
        read_event_file(path, strict=True)


BAD_FILES: list[tuple[str, str | bytes | Any, str]] = [
    ("broken JSON", '{"content": "Hackers', "broken JSON"),
    ("empty file", "", "broken JSON"),
    ("not UTF-8", b"\xff\xfe\x00garbage\x80", "cannot read the file"),
    ("a list", [1, 2], "not a CASIE annotation"),
    ("a string", '"content"', "not a CASIE annotation"),
    ("content missing", {"cyberevent": {"hopper": []}}, "no article text"),
    ("content a number", {"content": 5}, "no article text"),
    ("cyberevent a string", {"content": TEXT, "cyberevent": "none"}, "`cyberevent` is not an object"),
    (
        "hopper an object",
        {"content": TEXT, "cyberevent": {"hopper": {"events": []}}},
        "`cyberevent.hopper` is not a list",
    ),
    ("nested too deeply", "[" * 100_000 + "]" * 100_000, "broken JSON"),
]


@pytest.mark.parametrize(("what", "content", "message"), BAD_FILES, ids=[case[0] for case in BAD_FILES])
def test_unreadable_file_is_an_error_naming_it_or_a_counted_skip(
    tmp_path: Path, what: str, content: Any, message: str
) -> None:
    folder = tmp_path / "annotation"
    folder.mkdir()
    write(folder, "good.json", good())
    path = folder / "bad.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        write(folder, "bad.json", content)
    with pytest.raises(CasieError, match=r"bad\.json: " + re.escape(message)):
        read_event_file(path)
    documents, report = read_event_dir(tmp_path)
    assert list(documents) == ["good"], what
    assert list(report.skipped_files) == ["bad.json"] and message in report.skipped_files["bad.json"]
    with pytest.raises(CasieError, match=r"bad\.json"):
        read_event_dir(tmp_path, strict=True)
    # the trigger aligner (transformer training) skips it too
    docs = [Document("bad", [Sentence("Hackers stole the data of Acme.", ("AttackDatabreach",))])]
    alignment = align_triggers(tmp_path, docs)
    assert alignment.found == [False] and list(alignment.report.skipped_files) == ["bad.json"]


def test_files_without_events_are_fine(tmp_path: Path) -> None:
    for name, data in {"a": {"content": TEXT}, "b": {"content": TEXT, "cyberevent": None}}.items():
        document = read_event_file(write(tmp_path, f"{name}.json", data), strict=True)
        assert document.events == [] and document.text == TEXT


def test_a_folder_that_is_not_there_or_empty(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no CASIE annotation folder"):
        read_event_dir(tmp_path / "nope")
    documents, report = read_event_dir(tmp_path)
    assert documents == {} and report.files == 0


def test_many_mismatching_spans_stay_fast(tmp_path: Path) -> None:
    """Shift detection on a file whose 20,000 spans all point at the wrong text is bounded."""
    import time

    text = "a " * 50_000
    events = [
        {
            "type": "Attack",
            "subtype": "Phishing",
            "realis": "Actual",
            "nugget": {"startOffset": i, "endOffset": i + 1, "text": "z"},
        }
        for i in range(0, 40_000, 2)
    ]
    path = write(tmp_path, "big.json", {"content": text, "cyberevent": {"hopper": [{"events": events}]}})
    started = time.perf_counter()
    report = ReadReport()
    read_event_file(path, report=report)
    assert report.dropped_events["span text does not match"] == 20_000
    assert time.perf_counter() - started < 10
