"""Export a tagged document as a STIX 2.1 bundle (built with the OASIS ``stix2`` library).

Public API::

    to_stix_bundle(document_name, records, *, indicators=None, reviews=None, created=None) -> stix2.Bundle
    to_stix_json(document_name, records, *, indicators=None, reviews=None, created=None) -> str

``records`` are the tagging records ``{document, index, start, end, text, labels, scores}``
(:meth:`threatevents.tagging.TaggedSentence.to_record`), ``labels`` being the model's. ``indicators`` is one
list per record of :class:`~threatevents.indicators.Indicator` (or their ``to_dict()``); ``None`` extracts
them here. ``reviews`` maps a sentence index to its latest review ``{labels, accepted, reviewer[, created_at]}``;
the review's labels replace the model's.

The bundle holds

* an ``identity`` for threatevents, the ``created_by_ref`` of every other object;
* a ``report`` for the document (``report_types: ["threat-report"]``) whose ``object_refs`` list every object;
* a ``vulnerability`` per CVE id (``external_references: [{source_name: "cve", external_id}]``);
* an ``indicator`` per other distinct IOC, with a STIX pattern (``[ipv4-addr:value = '1.2.3.4']``,
  ``[file:hashes.'SHA-256' = '...']``, ...), ``pattern_type: "stix"``, ``indicator_types: ["unknown"]``;
* an ``x-threatevents-event`` per (sentence, event label), a new SDO declared by the ``extension-definition``
  :data:`EXTENSION_ID` (its JSON schema is :data:`EVENT_SCHEMA`): label, score, sentence index/text/offsets,
  review state (``unreviewed`` / ``accepted`` / ``relabelled``, with reviewer) and refs to the indicators
  and vulnerabilities of the same sentence.

Ids are derived from the document name and content (UUIDv4-shaped, from a SHA-1 name hash), so exporting
the same document with the same ``created`` gives the same bundle byte for byte.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import stix2
from stix2 import CustomObject
from stix2 import properties as p

from .indicators import Indicator, document_indicators, indicators_for_sentences
from .labels import EVENT_LABELS

EVENT_TYPE = "x-threatevents-event"
REVIEW_STATES = ("unreviewed", "accepted", "relabelled")
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:threatevents:stix")
#: Creation time of the tool's own objects (identity, extension definition): fixed so their ids never change.
DEFINITIONS_CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def stable_id(object_type: str, *parts: str) -> str:
    """``<type>--<uuid>``: a UUIDv4-shaped id derived from ``parts`` (same parts, same id)."""
    digest = uuid.uuid5(_NAMESPACE, "\x1f".join((object_type, *parts)))
    return f"{object_type}--{uuid.UUID(bytes=digest.bytes, version=4)}"


IDENTITY_ID = stable_id("identity", "threatevents")
EXTENSION_ID = stable_id("extension-definition", EVENT_TYPE, "1.0.0")

#: JSON schema of the properties an ``x-threatevents-event`` adds to the common SDO properties.
EVENT_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": EVENT_TYPE,
    "description": "A cyber event detected by threatevents in one sentence of a report.",
    "type": "object",
    "required": ["name", "event_type", "sentence_index", "sentence_text", "review_state"],
    "properties": {
        "name": {"type": "string"},
        "event_type": {"enum": list(EVENT_LABELS)},
        "score": {"type": "number", "minimum": 0, "maximum": 1, "description": "model probability of event_type"},
        "sentence_index": {"type": "integer", "minimum": 0, "description": "0-based sentence number"},
        "sentence_text": {"type": "string"},
        "sentence_start": {"type": "integer", "description": "character offset of the sentence in the document"},
        "sentence_end": {"type": "integer"},
        "review_state": {"enum": list(REVIEW_STATES)},
        "reviewer": {"type": "string"},
        "reviewed": {"type": "string", "format": "date-time"},
        "predicted_types": {
            "type": "array",
            "items": {"enum": list(EVENT_LABELS)},
            "description": "the model's event labels for the sentence, when a reviewer relabelled it",
        },
        "object_refs": {
            "type": "array",
            "items": {"type": "string", "pattern": "^(indicator|vulnerability)--"},
            "description": "indicators and vulnerabilities mentioned in the same sentence",
        },
    },
}


@CustomObject(
    EVENT_TYPE,
    [
        ("name", p.StringProperty(required=True)),
        ("event_type", p.EnumProperty(list(EVENT_LABELS), required=True)),
        ("score", p.FloatProperty(min=0, max=1)),
        ("sentence_index", p.IntegerProperty(min=0, required=True)),
        ("sentence_text", p.StringProperty(required=True)),
        ("sentence_start", p.IntegerProperty(min=0)),
        ("sentence_end", p.IntegerProperty(min=0)),
        ("review_state", p.EnumProperty(list(REVIEW_STATES), required=True)),
        ("reviewer", p.StringProperty()),
        ("reviewed", p.TimestampProperty()),
        ("predicted_types", p.ListProperty(p.EnumProperty(list(EVENT_LABELS)))),
        (
            "object_refs",
            p.ListProperty(p.ReferenceProperty(valid_types=["indicator", "vulnerability"], spec_version="2.1")),
        ),
    ],
    extension_name=EXTENSION_ID,
)
class ThreatEvent:
    """The ``x-threatevents-event`` SDO (see :data:`EVENT_SCHEMA`)."""


#: Indicator type -> STIX pattern left-hand side (CVE ids become vulnerabilities instead).
PATTERN_PATHS: dict[str, str] = {
    "ipv4": "ipv4-addr:value",
    "ipv6": "ipv6-addr:value",
    "domain": "domain-name:value",
    "url": "url:value",
    "email": "email-addr:value",
    "md5": "file:hashes.'MD5'",
    "sha1": "file:hashes.'SHA-1'",
    "sha256": "file:hashes.'SHA-256'",
    "sha512": "file:hashes.'SHA-512'",
}


def stix_pattern(indicator: Indicator) -> str:
    """The STIX pattern matching ``indicator`` (``[ipv4-addr:value = '1.2.3.4']``)."""
    literal = indicator.value.replace("\\", "\\\\").replace("'", "\\'")
    return f"[{PATTERN_PATHS[indicator.type]} = '{literal}']"


def _as_indicator(item: Indicator | Mapping[str, Any]) -> Indicator:
    return item if isinstance(item, Indicator) else Indicator(**item)


def _utc(moment: datetime | str | None) -> datetime | None:
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment


def _tool_objects() -> list[Any]:
    identity = stix2.Identity(
        id=IDENTITY_ID,
        created=DEFINITIONS_CREATED,
        modified=DEFINITIONS_CREATED,
        name="threatevents",
        description="Sentence-level cyber event tagger for threat reports.",
        identity_class="system",
    )
    extension = stix2.ExtensionDefinition(
        id=EXTENSION_ID,
        created_by_ref=IDENTITY_ID,
        created=DEFINITIONS_CREATED,
        modified=DEFINITIONS_CREATED,
        name=EVENT_TYPE,
        description="A cyber event detected by threatevents in one sentence of a threat report.",
        schema=json.dumps(EVENT_SCHEMA, sort_keys=True),
        version="1.0.0",
        extension_types=["new-sdo"],
    )
    return [identity, extension]


def _observable_objects(
    document_name: str, indices: Sequence[int], per_sentence: list[list[Indicator]], created: datetime
) -> tuple[list[Any], dict[tuple[str, str], str]]:
    """One vulnerability per CVE id, one indicator per other IOC; and the id of each (type, value).

    ``indices[i]`` is the sentence index of ``per_sentence[i]``.
    """
    mentions: dict[tuple[str, str], list[str]] = {}
    for index, found in zip(indices, per_sentence, strict=True):
        for indicator in found:
            sentences = mentions.setdefault((indicator.type, indicator.value), [])
            if str(index) not in sentences:
                sentences.append(str(index))
    objects: list[Any] = []
    ids: dict[tuple[str, str], str] = {}
    for first in document_indicators(per_sentence):
        key = (first.type, first.value)
        where = ", ".join(mentions[key])
        common = {"created_by_ref": IDENTITY_ID, "created": created, "modified": created}
        if first.type == "cve":
            obj: Any = stix2.Vulnerability(
                id=stable_id("vulnerability", document_name, first.value),
                name=first.value,
                description=f"{first.value}, mentioned in sentence(s) {where} of {document_name}.",
                external_references=[{"source_name": "cve", "external_id": first.value}],
                **common,
            )
        else:
            pattern = stix_pattern(first)
            obj = stix2.Indicator(
                id=stable_id("indicator", document_name, pattern),
                name=first.value,
                description=(
                    f"{first.type} mentioned in sentence(s) {where} of {document_name}"
                    f" (first written as {first.raw!r})."
                ),
                pattern=pattern,
                pattern_type="stix",
                valid_from=created,
                indicator_types=["unknown"],
                **common,
            )
        objects.append(obj)
        ids[key] = obj.id
    return objects, ids


def _event_objects(
    document_name: str,
    records: Sequence[Mapping[str, Any]],
    per_sentence: list[list[Indicator]],
    ids: Mapping[tuple[str, str], str],
    reviews: Mapping[int, Mapping[str, Any]],
    created: datetime,
) -> list[Any]:
    events = []
    for record, found in zip(records, per_sentence, strict=True):
        index = int(record["index"])
        predicted = [label for label in EVENT_LABELS if label in record["labels"]]
        review = reviews.get(index)
        labels = [label for label in EVENT_LABELS if label in review["labels"]] if review else predicted
        state = "unreviewed" if review is None else "accepted" if review.get("accepted") else "relabelled"
        sentence: dict[str, Any] = {
            "created_by_ref": IDENTITY_ID,
            "created": created,
            "modified": created,
            "sentence_index": index,
            "sentence_text": record["text"],
            "sentence_start": record.get("start"),
            "sentence_end": record.get("end"),
            "review_state": state,
            "object_refs": list(dict.fromkeys(ids[(x.type, x.value)] for x in found)) or None,
        }
        if review is not None:
            sentence["reviewer"] = review["reviewer"]
            sentence["reviewed"] = _utc(review.get("created_at"))
            if state == "relabelled":
                sentence["predicted_types"] = predicted or None  # absent: the model saw no event
        scores = record.get("scores") or {}
        for label in labels:
            fields = {
                **sentence,
                "id": stable_id(EVENT_TYPE, document_name, str(index), label),
                "name": f"{label} in sentence {index} of {document_name}",
                "event_type": label,
                "score": float(scores[label]) if label in scores else None,
            }
            events.append(ThreatEvent(**{key: value for key, value in fields.items() if value is not None}))
    return events


def to_stix_bundle(
    document_name: str,
    records: Sequence[Mapping[str, Any]],
    *,
    indicators: Sequence[Sequence[Indicator | Mapping[str, Any]]] | None = None,
    reviews: Mapping[int, Mapping[str, Any]] | None = None,
    created: datetime | None = None,
) -> stix2.Bundle:
    """The STIX 2.1 bundle of one tagged document (see the module docstring for its content).

    ``created`` (default: now, UTC) stamps every document object and is the report's ``published`` time.
    """
    created = _utc(created) or datetime.now(UTC)
    if indicators is None:
        per_sentence = indicators_for_sentences([record["text"] for record in records])
    else:
        if len(indicators) != len(records):
            raise ValueError(f"got indicators for {len(indicators)} sentences but {len(records)} records")
        per_sentence = [[_as_indicator(item) for item in found] for found in indicators]
    indices = [int(record["index"]) for record in records]
    observables, ids = _observable_objects(document_name, indices, per_sentence, created)
    events = _event_objects(document_name, records, per_sentence, ids, reviews or {}, created)
    objects = [*_tool_objects(), *observables, *events]
    report = stix2.Report(
        id=stable_id("report", document_name),
        created_by_ref=IDENTITY_ID,
        created=created,
        modified=created,
        name=document_name,
        description=(
            f"threatevents analysis of {document_name}: {len(records)} sentences, {len(events)} events, "
            f"{len(observables)} vulnerabilities and indicators."
        ),
        published=created,
        report_types=["threat-report"],
        object_refs=[obj.id for obj in objects],
        allow_custom=True,  # refers to x-threatevents-event objects
    )
    bundle_id = stable_id("bundle", document_name, created.isoformat())
    return stix2.Bundle(*objects, report, id=bundle_id, allow_custom=True)


def to_stix_json(
    document_name: str,
    records: Sequence[Mapping[str, Any]],
    *,
    indicators: Sequence[Sequence[Indicator | Mapping[str, Any]]] | None = None,
    reviews: Mapping[int, Mapping[str, Any]] | None = None,
    created: datetime | None = None,
) -> str:
    """:func:`to_stix_bundle` serialised as indented JSON."""
    bundle = to_stix_bundle(document_name, records, indicators=indicators, reviews=reviews, created=created)
    return str(bundle.serialize(pretty=True))
