"""Export tagged documents as a STIX 2.1 bundle (built with the OASIS ``stix2`` library).

Public API::

    to_stix_bundle(docs, *, created=None) -> stix2.Bundle
    to_stix_json(docs, *, created=None) -> str

``docs`` are documents as lists of :class:`~threatevents.tagging.TaggedSentence`: their ``labels`` (the
reviewer's once reviewed, ``review.predicted`` keeping the model's), scores, and ``indicators`` (as found by
tagging; a sentence without them contributes none). One bundle holds every document:

* an ``identity`` for threatevents, the ``created_by_ref`` of every other object;
* per document a ``report`` (``report_types: ["threat-report"]``) whose ``object_refs`` list the identity,
  the extension definition and every object of that document;
* a ``vulnerability`` per CVE id (``external_references: [{source_name: "cve", external_id}]``), one object per
  CVE in the bundle, shared with the event arguments naming it;
* the entities named by the arguments of every structured event (``TaggedSentence.events``) and the
  relationships between them (``targets``, ``uses``, ``mitigates``, ``has``, ``compromises``,
  ``attributed-to``, ``related-to``), one object per entity in the bundle (:mod:`.stix_links`,
  ``docs/stix.md``);
* an ``indicator`` per other distinct IOC, with a STIX pattern (``[ipv4-addr:value = '1.2.3.4']``,
  ``[file:hashes.'SHA-256' = '...']``, ...), ``pattern_type: "stix"``, ``indicator_types: ["unknown"]``;
  the descriptions of both name the sentences and the document character offsets of the first mention;
* an ``x-threatevents-event`` per (sentence, event label), a new SDO declared by the ``extension-definition``
  :data:`EXTENSION_ID` (its JSON schema is :data:`EVENT_SCHEMA`): label, score, sentence index/text/offsets,
  review state (``unreviewed`` / ``accepted`` / ``relabelled``, with reviewer) and refs to the indicators
  and vulnerabilities of the same sentence.

Ids are derived from the document name and content (UUIDv4-shaped, from a SHA-1 name hash; an entity's from its
type and normalised name, a relationship's from its ends and type), so exporting
the same documents with the same ``created`` gives the same bundle byte for byte. Two documents of one
bundle with the same name are told apart by their position (``name#2``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import stix2
from stix2 import CustomObject
from stix2 import properties as p

from ..labels import EVENT_LABELS
from .stix_links import Linked, Mention, cve_mention, entity_object, link_document, link_object

if TYPE_CHECKING:
    from ..indicators import Indicator
    from ..tagging import TaggedSentence

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
    document_name: str, tagged: Sequence[TaggedSentence], created: datetime, linked: Linked
) -> tuple[list[Any], list[str], dict[tuple[str, str], str]]:
    """One indicator per IOC other than a CVE id, and the vulnerability of each CVE id (registered in ``linked``:
    one object per CVE in the bundle, shared with event arguments naming it); returns the indicators, the ids of
    every observable in order of first mention, and the id of each (type, value)."""
    mentions: dict[tuple[str, str], list[str]] = {}
    first: dict[tuple[str, str], Indicator] = {}
    ids: dict[tuple[str, str], str] = {}
    for s in tagged:
        for indicator in s.indicators:
            key = (indicator.type, indicator.value)
            first.setdefault(key, indicator)
            sentences = mentions.setdefault(key, [])
            if str(s.index) not in sentences:
                sentences.append(str(s.index))
            if indicator.type == "cve":
                place = Mention(document_name, s.index, indicator.start or 0, indicator.end or 0)
                entity = cve_mention(linked, indicator.value, place)
                if entity is not None:
                    ids[key] = entity.id
    objects: list[Any] = []
    for key, found in first.items():
        if found.type == "cve":
            continue
        where = f"sentence(s) {', '.join(mentions[key])} of {document_name}"
        at = f" at characters {found.start}-{found.end}" if found.start is not None else ""
        pattern = stix_pattern(found)
        obj = stix2.Indicator(
            id=stable_id("indicator", document_name, pattern),
            created_by_ref=IDENTITY_ID,
            created=created,
            modified=created,
            name=found.value,
            description=f"{found.type} mentioned in {where} (first written as {found.raw!r}{at}).",
            pattern=pattern,
            pattern_type="stix",
            valid_from=created,
            indicator_types=["unknown"],
        )
        objects.append(obj)
        ids[key] = obj.id
    return objects, [ids[key] for key in first], ids


def _event_objects(
    document_name: str, tagged: Sequence[TaggedSentence], ids: Mapping[tuple[str, str], str], created: datetime
) -> list[Any]:
    events = []
    for s in tagged:
        predicted = [label for label in EVENT_LABELS if label in s.predicted]
        labels = [label for label in EVENT_LABELS if label in s.labels]
        review = s.review
        state = "unreviewed" if review is None else "accepted" if review.accepted else "relabelled"
        sentence: dict[str, Any] = {
            "created_by_ref": IDENTITY_ID,
            "created": created,
            "modified": created,
            "sentence_index": s.index,
            "sentence_text": s.text,
            "sentence_start": s.start,
            "sentence_end": s.end,
            "review_state": state,
            "object_refs": list(dict.fromkeys(ids[(x.type, x.value)] for x in s.indicators)) or None,
        }
        if review is not None:
            sentence["reviewer"] = review.reviewer
            sentence["reviewed"] = _utc(review.created_at)
            if state == "relabelled":
                sentence["predicted_types"] = predicted or None  # absent: the model saw no event
        for label in labels:
            fields = {
                **sentence,
                "id": stable_id(EVENT_TYPE, document_name, str(s.index), label),
                "name": f"{label} in sentence {s.index} of {document_name}",
                "event_type": label,
                "score": float(s.scores[label]) if label in s.scores else None,
            }
            events.append(ThreatEvent(**{key: value for key, value in fields.items() if value is not None}))
    return events


@dataclass
class _Document:
    """One document's part of the bundle, before the shared entities are made."""

    name: str
    tagged: Sequence[TaggedSentence]
    indicators: list[Any]
    observable_ids: list[str]
    events: list[Any]
    linked_ids: list[str]


def _report(document: _Document, created: datetime) -> Any:
    refs = list(dict.fromkeys([*document.observable_ids, *(e.id for e in document.events), *document.linked_ids]))
    relationships = sum(1 for ref in refs if ref.startswith("relationship--"))
    return stix2.Report(
        id=stable_id("report", document.name),
        created_by_ref=IDENTITY_ID,
        created=created,
        modified=created,
        name=document.tagged[0].document if document.tagged else document.name,
        description=(
            f"threatevents analysis of {document.name}: {len(document.tagged)} sentences, {len(document.events)} "
            f"sentence events, {len(refs) - len(document.events) - relationships} entities, vulnerabilities and "
            f"indicators, {relationships} relationships."
        ),
        published=created,
        report_types=["threat-report"],
        object_refs=[IDENTITY_ID, EXTENSION_ID, *refs],
        allow_custom=True,  # refers to x-threatevents-event objects
    )


def _unique_names(docs: Sequence[Sequence[TaggedSentence]]) -> list[str]:
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, tagged in enumerate(docs):
        name = tagged[0].document if tagged else f"document-{i}"
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return names


def to_stix_bundle(docs: Sequence[Sequence[TaggedSentence]], *, created: datetime | None = None) -> stix2.Bundle:
    """One STIX 2.1 bundle of tagged documents, a report per document (see the module docstring).

    ``created`` (default: now, UTC) stamps every document object and is each report's ``published`` time.
    """
    created = _utc(created) or datetime.now(UTC)
    names = _unique_names(docs)
    linked = Linked()
    documents = []
    for name, tagged in zip(names, docs, strict=True):
        indicators, observable_ids, ids = _observable_objects(name, tagged, created, linked)
        events = _event_objects(name, tagged, ids, created)
        linked_ids = link_document(linked, name, tagged)
        documents.append(_Document(name, tagged, indicators, observable_ids, events, linked_ids))
    # Entities and relationships are made once every mention is known; each goes with the first report naming it.
    common = {"created_by_ref": IDENTITY_ID, "created": created, "modified": created}
    made: dict[str, Any] = {entity.id: entity_object(entity, common) for entity in linked.entities.values()}
    made |= {link.id: link_object(link, linked, common) for link in linked.links.values()}
    made |= {obj.id: obj for document in documents for obj in document.indicators}
    objects = _tool_objects()
    emitted: set[str] = set()
    for document in documents:
        for ref in dict.fromkeys([*document.observable_ids, *(e.id for e in document.events), *document.linked_ids]):
            if ref in emitted:
                continue
            emitted.add(ref)
            objects.append(made[ref] if ref in made else next(e for e in document.events if e.id == ref))
        objects.append(_report(document, created))
    bundle_id = stable_id("bundle", *names, created.isoformat())
    return stix2.Bundle(*objects, id=bundle_id, allow_custom=True)


def to_stix_json(docs: Sequence[Sequence[TaggedSentence]], *, created: datetime | None = None) -> str:
    """:func:`to_stix_bundle` serialised as indented JSON."""
    # Indented but not `pretty`: stix2's pretty mode reorders properties in time quadratic in the bundle size
    # (minutes for a few hundred documents with events); objects keep their type, spec_version, id order anyway.
    return str(to_stix_bundle(docs, created=created).serialize(indent=2))
