"""Structured cyber events: the schema, and CASIE annotation files read and written with every offset checked.

An :class:`Event` has a type (one of our five event labels), a realis (``Actual``, ``Generic`` or
``Other``), a trigger :class:`Span` and :class:`Argument` spans, each with one of the 26 CASIE roles
(:data:`~threatevents.labels.ARGUMENT_ROLES`). Offsets are character offsets into the document text,
end exclusive. Events of one CASIE *hopper* corefer (they are mentions of one real event).

Reading (:func:`read_event_file`, :func:`read_event_dir`, :func:`parse_event_document`). Every span's
``text`` is compared with the document text at its offsets. In about 30 CASIE files the article text lost
its leading whitespace while the offsets still count it, so every span is off by the same amount; the
reader finds that shift per document (the one under which most spans match, searched within
:data:`MAX_SHIFT` characters) and corrects every span by it. What cannot be corrected is bad input:
a span whose text does not match under the shift or that falls outside the text, missing or non-integer
offsets, an unknown type/subtype, realis or role, a malformed element, broken JSON. By default each is
skipped (an event whose trigger is bad is dropped whole; a bad argument is dropped from its event; a file
that cannot be read at all is skipped) and counted in a :class:`ReadReport` with a line naming the file;
``strict=True`` raises :class:`CasieError` naming the file instead. The one known spelling slip in CASIE,
realis ``General`` (once, in 10002.json), is read as ``Generic`` and counted.

Writing (:func:`to_casie_json`, :func:`write_event_file`) produces the same JSON shape with offsets into
the text as stored, so corrected or predicted events round-trip: reading what was written gives equal
documents. Events without an id or hopper (predicted ones) get fresh ids and a hopper each.

Records (:meth:`Event.to_record`, :meth:`Event.from_record`) are the per-event JSON objects of tagged
output, described by the JSON Schema in ``threatevents/schemas/event-record.schema.json`` (see
``docs/events.md``).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from .labels import ARGUMENT_ROLES, CASIE_EVENT_TYPES, EVENT_CASIE_TYPES, EVENT_LABELS, REALIS

#: Largest offset correction searched for (the largest in CASIE is 12).
MAX_SHIFT = 64
#: Realis spellings read as another value (counted in :attr:`ReadReport.realis_corrected`).
REALIS_ALIASES = {"General": "Generic"}
#: The JSON Schema of one event record (package data).
RECORD_SCHEMA_PATH = Path(__file__).resolve().parent / "schemas" / "event-record.schema.json"

_ROLES = frozenset(ARGUMENT_ROLES)
_EVENT_KEYS = frozenset({"index", "type", "subtype", "realis", "nugget", "argument", "score"})
_ARGUMENT_KEYS = frozenset({"index", "startOffset", "endOffset", "text", "type", "role", "score"})
_MAX_SHIFT_PROBES = 20  # mismatching spans looked at to propose shifts


#: What separates sentences in the text a model's ``predict_events`` gives offsets into (see :func:`join_sentences`).
SENTENCE_SEPARATOR = "\n"


def join_sentences(sentences: Sequence[str]) -> tuple[str, list[int]]:
    """A document given as sentences as one text (sentences joined by :data:`SENTENCE_SEPARATOR`), and where
    each sentence starts in it: the frame of the offsets a model's ``predict_events`` returns."""
    starts, at = [], 0
    for sentence in sentences:
        starts.append(at)
        at += len(sentence) + len(SENTENCE_SEPARATOR)
    return SENTENCE_SEPARATOR.join(sentences), starts


class CasieError(ValueError):
    """A CASIE annotation file (or event record) that cannot be read as it stands; the message names it."""


@dataclass(frozen=True)
class Span:
    """Characters ``[start, end)`` of the document text, and that text."""

    start: int
    end: int
    text: str


@dataclass
class Argument:
    """An event argument: its role, span in the document text and entity type."""

    role: str
    start: int
    end: int
    text: str
    entity_type: str | None = None
    score: float | None = None
    id: str | None = None  # CASIE's ``index`` (``T12``)
    attributes: dict[str, Any] = field(default_factory=dict)  # other CASIE keys (``external_reference``), as read
    role_attributes: dict[str, Any] = field(default_factory=dict)  # other keys of CASIE's ``role`` (``CAPEC-Meta``)

    @property
    def span(self) -> Span:
        return Span(self.start, self.end, self.text)

    def to_record(self) -> dict[str, Any]:
        return {"role": self.role, "start": self.start, "end": self.end, "text": self.text, "score": self.score}


@dataclass
class Event:
    """One event mention: type (an event label), realis, trigger span and arguments."""

    type: str
    realis: str
    trigger: Span
    arguments: list[Argument] = field(default_factory=list)
    id: str | None = None  # CASIE's event ``index`` (``E3``)
    hopper: int | str | None = None  # coreference group: events of one hopper are the same real event
    trigger_id: str | None = None  # CASIE's nugget ``index`` (``T10``)
    score: float | None = None
    attributes: dict[str, Any] = field(default_factory=dict)  # other keys of the CASIE event object, as read

    @property
    def casie_type(self) -> tuple[str, str]:
        """CASIE ``(type, subtype)``."""
        return EVENT_CASIE_TYPES[self.type]

    def to_record(self) -> dict[str, Any]:
        """The event as a tagged-output record (see ``docs/events.md``)."""
        return {
            "type": self.type,
            "realis": self.realis,
            "score": self.score,
            "trigger": {"start": self.trigger.start, "end": self.trigger.end, "text": self.trigger.text},
            "arguments": [argument.to_record() for argument in self.arguments],
        }

    @classmethod
    def from_record(cls, record: Any, text: str | None = None) -> Event:
        """An event from a record; with ``text``, every span must match it. Raises :class:`CasieError`."""
        return _event_from_record(record, text)


@dataclass
class EventDocument:
    """A document's text and its events, plus what CASIE keeps beside them (written back unchanged)."""

    id: str
    text: str
    events: list[Event] = field(default_factory=list)
    hopper_relations: dict[int | str, str] = field(default_factory=dict)  # CASIE hopper ``relation`` (``Same``)
    metadata: dict[str, Any] = field(default_factory=dict)  # other top-level keys (``sourcefile``, ``info``)

    def type_counts(self) -> Counter[str]:
        return Counter(event.type for event in self.events)


@dataclass
class ReadReport:
    """What reading CASIE files met: corrections made and everything skipped, with one line per problem."""

    files: int = 0
    documents: int = 0
    events: int = 0
    arguments: int = 0
    shifted: dict[str, int] = field(default_factory=dict)  # document id -> correction added to its offsets
    skipped_files: dict[str, str] = field(default_factory=dict)  # file name -> why
    dropped_events: Counter[str] = field(default_factory=Counter)  # reason -> count
    dropped_arguments: Counter[str] = field(default_factory=Counter)
    realis_corrected: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        """Nothing was skipped (shift corrections and realis spellings do not count)."""
        return not (self.skipped_files or self.dropped_events or self.dropped_arguments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "documents": self.documents,
            "events": self.events,
            "arguments": self.arguments,
            "shifted": dict(self.shifted),
            "skipped_files": dict(self.skipped_files),
            "dropped_events": dict(self.dropped_events),
            "dropped_arguments": dict(self.dropped_arguments),
            "realis_corrected": self.realis_corrected,
        }


class _Problem(Exception):
    """One bad element: its reason (the counting key) and a description."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# -- reading -------------------------------------------------------------------------------------------------


def read_event_file(path: str | Path, *, strict: bool = False, report: ReadReport | None = None) -> EventDocument:
    """One CASIE annotation file (document id: the file name without ``.json``).

    A file that cannot be read at all (unreadable, broken JSON, no text) raises :class:`CasieError`
    naming it, strict or not; what is inside is checked as the module docstring says.
    """
    path = Path(path)
    report = report if report is not None else ReadReport()
    report.files += 1
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CasieError(f"{path}: cannot read the file ({exc})") from None
    except json.JSONDecodeError as exc:
        raise CasieError(f"{path}: broken JSON ({exc})") from None
    except RecursionError:
        raise CasieError(f"{path}: broken JSON (nested too deeply)") from None
    return parse_event_document(data, path.stem, strict=strict, report=report, source=str(path))


def read_event_dir(
    folder: str | Path, *, strict: bool = False, ids: Iterable[str] | None = None, report: ReadReport | None = None
) -> tuple[dict[str, EventDocument], ReadReport]:
    """Every ``*.json`` of ``folder`` (or of ``folder/annotation``), by document id, and the read report.

    ``ids`` restricts the read to those documents (ids without a file are simply absent). By default a
    file that cannot be read is skipped and counted; ``strict`` raises :class:`CasieError` instead.
    """
    root = Path(folder)
    directory = root / "annotation" if (root / "annotation").is_dir() else root
    if not directory.is_dir():
        raise FileNotFoundError(f"no CASIE annotation folder at {root}")
    report = report if report is not None else ReadReport()
    wanted = None if ids is None else set(ids)
    documents: dict[str, EventDocument] = {}
    for path in sorted(directory.glob("*.json")):
        if wanted is not None and path.stem not in wanted:
            continue
        try:
            documents[path.stem] = read_event_file(path, strict=strict, report=report)
        except CasieError as exc:
            if strict:
                raise
            report.skipped_files[path.name] = str(exc)
            report.problems.append(str(exc))
    return documents, report


def parse_event_document(
    data: Any, doc_id: str, *, strict: bool = False, report: ReadReport | None = None, source: str | None = None
) -> EventDocument:
    """A CASIE JSON object (already parsed) as an :class:`EventDocument`; see the module docstring."""
    report = report if report is not None else ReadReport()
    name = source or doc_id
    if not isinstance(data, dict):
        raise CasieError(f"{name}: not a CASIE annotation (the top level is a {type(data).__name__}, not an object)")
    text = data.get("content")
    if not isinstance(text, str):
        raise CasieError(f"{name}: no article text (`content` missing or not a string)")
    cyber = data.get("cyberevent")
    if cyber is not None and not isinstance(cyber, dict):
        raise CasieError(f"{name}: `cyberevent` is not an object")
    hoppers = (cyber or {}).get("hopper")
    hoppers = [] if hoppers is None else hoppers
    if not isinstance(hoppers, list):
        raise CasieError(f"{name}: `cyberevent.hopper` is not a list")
    metadata = {key: value for key, value in data.items() if key not in ("content", "cyberevent")}
    document = EventDocument(doc_id, text, metadata=metadata)

    def problem(kind: Counter[str], where: str, exc: _Problem) -> None:
        message = f"{name}: {where}: {exc.reason} ({exc.detail})"
        if strict:
            raise CasieError(message)
        kind[exc.reason] += 1
        report.problems.append(message)

    raw_events: list[tuple[int | str | None, Any]] = []
    for h, hopper in enumerate(hoppers):
        if not isinstance(hopper, dict) or not isinstance(hopper.get("events", []), list):
            problem(report.dropped_events, f"hopper {h}", _Problem("malformed element", "not a hopper object"))
            continue
        hopper_id = hopper.get("index")
        if not isinstance(hopper_id, int | str) or isinstance(hopper_id, bool):
            hopper_id = None
        relation = hopper.get("relation")
        if hopper_id is not None and isinstance(relation, str):
            document.hopper_relations[hopper_id] = relation
        raw_events += [(hopper_id, event) for event in hopper.get("events", [])]

    shift = detect_shift(text, [span for _, event in raw_events for span in _raw_spans(event)])
    if shift:
        report.shifted[doc_id] = shift
    for n, (hopper_id, raw) in enumerate(raw_events):
        where = f"event {raw.get('index', n) if isinstance(raw, dict) else n}"
        try:
            event = _parse_event(raw, text, shift, hopper_id)
        except _Problem as exc:
            problem(report.dropped_events, where, exc)
            continue
        for a, raw_argument in enumerate(_list(raw.get("argument"))):
            try:
                event.arguments.append(_parse_argument(raw_argument, text, shift))
            except _Problem as exc:
                problem(report.dropped_arguments, f"{where} argument {a}", exc)
        if raw.get("realis") in REALIS_ALIASES:
            report.realis_corrected += 1
        document.events.append(event)
    report.documents += 1
    report.events += len(document.events)
    report.arguments += sum(len(event.arguments) for event in document.events)
    return document


def detect_shift(text: str, spans: Sequence[tuple[int, int, str]]) -> int:
    """The offset correction under which most ``(start, end, text)`` spans match ``text``; 0 unless one beats it.

    Candidates come from where the first mismatching spans' texts occur within :data:`MAX_SHIFT`
    characters of their offsets; ties go to the smaller correction.
    """

    def hits(k: int) -> int:
        return sum(1 for s, e, t in spans if _matches(text, s + k, e + k, t))

    misses = [(s, e, t) for s, e, t in spans if not _matches(text, s, e, t)]
    if not misses:
        return 0
    candidates: set[int] = set()
    for s, _, t in misses[:_MAX_SHIFT_PROBES]:
        if not t:
            continue
        at = text.find(t, max(0, s - MAX_SHIFT))
        while 0 <= at <= s + MAX_SHIFT:
            candidates.add(at - s)
            at = text.find(t, at + 1)
    best, best_hits = 0, len(spans) - len(misses)
    for k in sorted(candidates - {0}, key=lambda k: (abs(k), k)):
        if (h := hits(k)) > best_hits:
            best, best_hits = k, h
    return best


def _matches(text: str, start: int, end: int, span_text: str) -> bool:
    return 0 <= start < end <= len(text) and text[start:end] == span_text


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _raw_spans(raw: Any) -> list[tuple[int, int, str]]:
    """Every span of a raw event with integer offsets and a text (for shift detection)."""
    if not isinstance(raw, dict):
        return []
    out = []
    for item in [raw.get("nugget"), *_list(raw.get("argument"))]:
        if isinstance(item, dict):
            s, e, t = item.get("startOffset"), item.get("endOffset"), item.get("text")
            if _is_int(s) and _is_int(e) and isinstance(t, str):
                out.append((s, e, t))
    return out


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _span(item: Any, text: str, shift: int, what: str) -> Span:
    """A checked span from a CASIE ``{startOffset, endOffset, text}`` object, corrected by ``shift``."""
    if not isinstance(item, dict):
        raise _Problem("malformed element", f"{what} is not an object")
    start, end, span_text = item.get("startOffset"), item.get("endOffset"), item.get("text")
    if not (_is_int(start) and _is_int(end)):
        raise _Problem("offsets missing or not integers", f"{what} {start!r}-{end!r}")
    if span_text is not None and not isinstance(span_text, str):
        raise _Problem("malformed element", f"{what} text is not a string")
    return _checked_span(start, end, span_text, text, shift, what)


def _checked_span(start: int, end: int, span_text: str | None, text: str, shift: int, what: str) -> Span:
    for k in (shift, 0) if shift else (0,):
        s, e = start + k, end + k
        if 0 <= s < e <= len(text) and (span_text is None or text[s:e] == span_text):
            return Span(s, e, text[s:e])
    label = f"{what} {span_text!r} at {start}-{end}"
    if not 0 <= start + shift < end + shift <= len(text):
        raise _Problem("offsets out of range", f"{label}, text length {len(text)}")
    raise _Problem("span text does not match", f"{label} reads {text[start + shift : end + shift]!r}")


def _parse_event(raw: Any, text: str, shift: int, hopper: int | str | None) -> Event:
    if not isinstance(raw, dict):
        raise _Problem("malformed element", "not an event object")
    kind, subtype = raw.get("type"), raw.get("subtype")
    label = CASIE_EVENT_TYPES.get((kind, subtype)) if isinstance(kind, str) and isinstance(subtype, str) else None
    if label is None:
        raise _Problem("unknown type/subtype", f"{kind!r}/{subtype!r}")
    realis = raw.get("realis")
    realis = REALIS_ALIASES.get(realis, realis) if isinstance(realis, str) else realis
    if realis not in REALIS:
        raise _Problem("unknown realis", repr(raw.get("realis")))
    trigger = _span(raw.get("nugget"), text, shift, "trigger")
    nugget = raw["nugget"]
    return Event(
        type=label,
        realis=realis,
        trigger=trigger,
        id=_optional_id(raw.get("index")),
        hopper=hopper,
        trigger_id=_optional_id(nugget.get("index")),
        score=_score(raw.get("score")),
        attributes={k: v for k, v in raw.items() if k not in _EVENT_KEYS},
    )


def _parse_argument(raw: Any, text: str, shift: int) -> Argument:
    if not isinstance(raw, dict):
        raise _Problem("malformed element", "not an argument object")
    role_obj = raw.get("role")
    role = role_obj.get("type") if isinstance(role_obj, dict) else role_obj
    if not isinstance(role, str) or role not in _ROLES:
        raise _Problem("unknown role", repr(role))
    span = _span(raw, text, shift, str(role))
    entity_type = raw.get("type")
    return Argument(
        role=role,
        start=span.start,
        end=span.end,
        text=span.text,
        entity_type=entity_type if isinstance(entity_type, str) else None,
        score=_score(raw.get("score")),
        id=_optional_id(raw.get("index")),
        attributes={k: v for k, v in raw.items() if k not in _ARGUMENT_KEYS},
        role_attributes={k: v for k, v in role_obj.items() if k != "type"} if isinstance(role_obj, dict) else {},
    )


def _optional_id(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _score(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _Problem("malformed element", f"score {value!r} is not a number")
    return float(value)


# -- writing -------------------------------------------------------------------------------------------------


def to_casie_json(document: EventDocument) -> dict[str, Any]:
    """The document in CASIE's JSON shape; offsets index ``document.text`` as stored."""
    for event in document.events:
        check_event(event, document.text, where=document.id)
    used = {event.id for event in document.events}
    fresh = (f"E{n}" for n in range(1, len(document.events) * 2 + 2) if f"E{n}" not in used)
    hopper_ids = [event.hopper for event in document.events if event.hopper is not None]
    next_hopper = max((h for h in hopper_ids if isinstance(h, int)), default=-1) + 1
    hoppers: dict[int | str, list[dict[str, Any]]] = {}
    for event in document.events:
        hopper = event.hopper
        if hopper is None:
            hopper, next_hopper = next_hopper, next_hopper + 1
        hoppers.setdefault(hopper, []).append(_event_json(event, event.id or next(fresh)))
    out_hoppers = []
    for hopper, events in hoppers.items():
        item: dict[str, Any] = {"index": hopper}
        if hopper in document.hopper_relations:
            item["relation"] = document.hopper_relations[hopper]
        item["events"] = events
        out_hoppers.append(item)
    return {"content": document.text, **document.metadata, "cyberevent": {"hopper": out_hoppers}}


def write_event_file(document: EventDocument, path: str | Path) -> Path:
    """Write the document as CASIE JSON (UTF-8); returns the path."""
    path = Path(path)
    path.write_text(json.dumps(to_casie_json(document), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def write_event_dir(documents: Iterable[EventDocument], folder: str | Path) -> Path:
    """Write each document as ``folder/<id>.json``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for document in documents:
        write_event_file(document, folder / f"{document.id}.json")
    return folder


def _event_json(event: Event, event_id: str) -> dict[str, Any]:
    kind, subtype = event.casie_type
    nugget: dict[str, Any] = {"startOffset": event.trigger.start, "endOffset": event.trigger.end}
    nugget["text"] = event.trigger.text
    if event.trigger_id is not None:
        nugget["index"] = event.trigger_id
    out: dict[str, Any] = {"index": event_id, "type": kind, "subtype": subtype, "realis": event.realis}
    out["nugget"] = nugget
    if event.score is not None:
        out["score"] = event.score
    out |= event.attributes
    if event.arguments:
        out["argument"] = [_argument_json(argument) for argument in event.arguments]
    return out


def _argument_json(argument: Argument) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if argument.id is not None:
        out["index"] = argument.id
    out |= {"startOffset": argument.start, "endOffset": argument.end, "text": argument.text}
    if argument.entity_type is not None:
        out["type"] = argument.entity_type
    out["role"] = {"type": argument.role, **argument.role_attributes}
    out |= argument.attributes
    if argument.score is not None:
        out["score"] = argument.score
    return out


def check_event(event: Event, text: str | None = None, *, where: str = "event") -> None:
    """Raise :class:`CasieError` unless ``event`` fits the schema (and, given ``text``, its spans match it)."""
    if event.type not in EVENT_LABELS:
        raise CasieError(f"{where}: unknown event type {event.type!r}")
    if event.realis not in REALIS:
        raise CasieError(f"{where}: unknown realis {event.realis!r}")
    spans: list[tuple[str, Span]] = [("trigger", event.trigger)]
    for argument in event.arguments:
        if argument.role not in _ROLES:
            raise CasieError(f"{where}: unknown role {argument.role!r}")
        spans.append((argument.role, argument.span))
    for what, span in spans:
        if not (_is_int(span.start) and _is_int(span.end) and isinstance(span.text, str)):
            raise CasieError(f"{where}: {what} span needs integer offsets and a text")
        if not 0 <= span.start < span.end:
            raise CasieError(f"{where}: {what} span {span.start}-{span.end} is empty or negative")
        if text is not None and (span.end > len(text) or text[span.start : span.end] != span.text):
            raise CasieError(f"{where}: {what} {span.text!r} at {span.start}-{span.end} does not match the text")


# -- records -------------------------------------------------------------------------------------------------


def _event_from_record(record: Any, text: str | None) -> Event:
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise CasieError(f"event record: {message}")

    need(isinstance(record, Mapping), "not an object")
    need(set(record) == {"type", "realis", "score", "trigger", "arguments"}, f"keys {sorted(record)}")
    trigger = record["trigger"]
    need(isinstance(trigger, Mapping) and set(trigger) == {"start", "end", "text"}, "trigger needs start, end, text")
    need(isinstance(record["arguments"], list), "arguments is not a list")
    arguments = []
    for n, item in enumerate(record["arguments"]):
        need(
            isinstance(item, Mapping) and set(item) == {"role", "start", "end", "text", "score"},
            f"argument {n} needs role, start, end, text, score",
        )
        need(isinstance(item["role"], str), f"argument {n} role is not a string")
        arguments.append(
            Argument(item["role"], item["start"], item["end"], item["text"], score=_record_score(item["score"], need))
        )
    need(isinstance(record["type"], str) and isinstance(record["realis"], str), "type and realis must be strings")
    event = Event(
        type=record["type"],
        realis=record["realis"],
        trigger=Span(trigger["start"], trigger["end"], trigger["text"]),
        arguments=arguments,
        score=_record_score(record["score"], need),
    )
    check_event(event, text, where="event record")
    return event


def _record_score(value: Any, need: Any) -> float | None:
    if value is None:
        return None
    need(not isinstance(value, bool) and isinstance(value, int | float), f"score {value!r} is not a number")
    need(0.0 <= value <= 1.0, f"score {value!r} is outside [0, 1]")
    return float(value)
