"""Structured events as linked STIX 2.1: the entities named by event arguments and the relationships between them.

:func:`link_events` reads the :class:`~threatevents.events.Event` objects of every tagged sentence and gives,
for a whole bundle, one STIX object per distinct entity and one ``relationship`` per distinct link, with the
ids each document's ``report`` must list. See ``docs/stix.md`` for the role -> STIX mapping
(:data:`ROLE_OBJECTS`) and the relationships made.

* Ids are name hashes: UUIDv5 over :data:`ENTITY_NAMESPACE` and ``type`` + the normalised name (stamped as
  version 4, which the STIX validator expects of SDOs) (:func:`normalise`:
  case-folded, whitespace collapsed, a leading article and surrounding punctuation dropped), so the same
  entity named twice in a report (or in two reports of one bundle) is one object, and exporting again gives
  the same ids.
* An argument that is only a pronoun (``it``, ``they``...) names no entity and is left out.
* A ``relationship`` is keyed by (source, type, target): its description lists the events that state it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import stix2

from ..events import Argument, Event
from .eventfmt import sentence_events

if TYPE_CHECKING:
    from ..tagging import TaggedSentence

#: Namespace of the UUIDv5 ids of entities and relationships made from event arguments.
ENTITY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:threatevents:stix:entity")

#: Role -> the STIX object it becomes (documentation and tests; :func:`_entities_of` decides per argument).
ROLE_OBJECTS: dict[str, str] = {
    "Attacker": "threat-actor (intrusion-set when the text names a group: 'Lazarus Group', 'APT28', 'FIN7')",
    "Victim": "identity: individual for a CASIE Person, organization otherwise; infrastructure for a CASIE System, "
    "Device, Website or Software",
    "Vulnerable_System_Owner": "identity (as Victim)",
    "CVE": "vulnerability with the cve external reference (one per CVE id in the text)",
    "Vulnerability": "vulnerability (a CVE id in the text gives the cve reference; in an event that names a CVE, "
    "the wording is kept in that vulnerability's description instead)",
    "Vulnerable_System": "infrastructure (it `has` the event's vulnerabilities)",
    "Patch": "course-of-action",
    "Tool": "malware (CASIE Malware, or malware words: ransomware, trojan, virus...), tool otherwise",
    "Attack-Pattern": "attack-pattern",
}

CVE_ID = re.compile(r"\bCVE-\d{4}-\d{4,}\b", re.IGNORECASE)
_GROUP = re.compile(r"\b(group|gang|team|crew|collective|syndicate|apt\s?-?\d+|fin\d+|ta\d{3,})\b", re.IGNORECASE)
_MALWARE = re.compile(
    r"ransomware|malware|trojan|virus|worm|botnet|backdoor|spyware|keylogger|rootkit|cryptominer|infostealer|"
    r"stealer|wiper|\brat\b",
    re.IGNORECASE,
)
_PRONOUNS = frozenset(
    {"it", "its", "they", "them", "their", "theirs", "he", "him", "his", "she", "her", "hers", "we", "us", "our"}
    | {"you", "your", "i", "me", "my", "who", "whom", "which", "that", "this", "these", "those", "someone"}
)
_ARTICLE = re.compile(r"^(the|a|an)\s+")
_EDGE_PUNCTUATION = " \t\n\"'“”‘’.,;:()[]{}"
_SYSTEM_TYPES = frozenset({"System", "Device", "Website", "Software"})  # CASIE entity types of a victim system
_SEPARATOR = "\x1f"
_MAX_MENTIONS = 5  # events listed in a description before "and N more"


def normalise(text: str) -> str:
    """The key an entity name is compared by: case-folded, whitespace collapsed, surrounding punctuation and a
    leading article dropped (``The  Company.`` -> ``company``)."""
    key = " ".join(text.split()).strip(_EDGE_PUNCTUATION).casefold()
    return _ARTICLE.sub("", key).strip(_EDGE_PUNCTUATION)


def entity_id(object_type: str, key: str) -> str:
    """``<type>--<uuid>``: the UUIDv5 of the type and normalised name in :data:`ENTITY_NAMESPACE`, its version bits
    set to 4 (the STIX validator warns on an SDO or SRO id that is not a UUIDv4; the value stays a name hash)."""
    digest = uuid.uuid5(ENTITY_NAMESPACE, _SEPARATOR.join((object_type, key)))
    return f"{object_type}--{uuid.UUID(bytes=digest.bytes, version=4)}"


@dataclass
class Mention:
    """Where an entity or link was stated: document, sentence index and the document character offsets."""

    document: str
    sentence: int
    start: int
    end: int

    def describe(self) -> str:
        return f"sentence {self.sentence} of {self.document} (characters {self.start}-{self.end})"


@dataclass
class Entity:
    """One STIX object named by event arguments (or by a CVE id found by indicator extraction)."""

    type: str
    key: str
    name: str
    id: str
    properties: dict[str, Any] = field(default_factory=dict)
    mentions: list[Mention] = field(default_factory=list)
    wordings: list[str] = field(default_factory=list)  # other texts naming it ("the SMB flaw" for a CVE)
    roles: list[str] = field(default_factory=list)


@dataclass
class Link:
    """One relationship and the events that state it."""

    source: str
    type: str
    target: str
    id: str
    events: list[str] = field(default_factory=list)


@dataclass
class Linked:
    """What :func:`link_events` found in a bundle's documents."""

    entities: dict[tuple[str, str], Entity] = field(default_factory=dict)
    links: dict[tuple[str, str, str], Link] = field(default_factory=dict)

    def entity(self, object_type: str, name: str, properties: dict[str, Any] | None = None) -> Entity | None:
        key = normalise(name)
        if not key or key in _PRONOUNS:
            return None
        if object_type == "vulnerability" and CVE_ID.fullmatch(key):
            key = key.upper()
        found = self.entities.get((object_type, key))
        if found is None:
            display = " ".join(name.split()).strip(_EDGE_PUNCTUATION)
            if object_type == "vulnerability" and CVE_ID.fullmatch(display):
                display = display.upper()
            found = Entity(object_type, key, display, entity_id(object_type, key), dict(properties or {}))
            self.entities[(object_type, key)] = found
        return found

    def link(self, source: Entity, relationship: str, target: Entity, event: str) -> Link:
        key = (source.id, relationship, target.id)
        found = self.links.get(key)
        if found is None:
            found = Link(source.id, relationship, target.id, entity_id("relationship", _SEPARATOR.join(key)))
            self.links[key] = found
        if event not in found.events:
            found.events.append(event)
        return found


def _cve_entity(linked: Linked, cve: str) -> Entity | None:
    return linked.entity(
        "vulnerability", cve, {"external_references": [{"source_name": "cve", "external_id": cve.upper()}]}
    )


def _entities_of(linked: Linked, argument: Argument, event: Event) -> list[Entity]:
    """The entities one argument names (several for an argument listing several CVE ids)."""
    role, text, kind = argument.role, argument.text, argument.entity_type
    found: list[Entity | None] = []
    if role == "Attacker":
        found.append(linked.entity("intrusion-set" if _GROUP.search(text) else "threat-actor", text))
    elif role in ("Victim", "Vulnerable_System_Owner"):
        if role == "Victim" and kind in _SYSTEM_TYPES:
            found.append(linked.entity("infrastructure", text))
        else:
            identity_class = "individual" if kind == "Person" else "organization"
            found.append(linked.entity("identity", text, {"identity_class": identity_class}))
    elif role in ("CVE", "Vulnerability"):
        cves = CVE_ID.findall(text)
        if cves:
            found += [_cve_entity(linked, cve) for cve in cves]
        elif role == "Vulnerability" and not any(a.role == "CVE" and CVE_ID.search(a.text) for a in event.arguments):
            found.append(linked.entity("vulnerability", text))
        elif role == "Vulnerability":  # the event names its CVE: this is a wording of it
            for other in event.arguments:
                for cve in CVE_ID.findall(other.text) if other.role == "CVE" else []:
                    entity = _cve_entity(linked, cve)
                    wording = " ".join(text.split())
                    if entity is not None and wording not in entity.wordings:
                        entity.wordings.append(wording)
    elif role == "Vulnerable_System":
        found.append(linked.entity("infrastructure", text))
    elif role == "Patch":
        found.append(linked.entity("course-of-action", text))
    elif role == "Tool":
        if kind == "Malware" or _MALWARE.search(text):
            ransomware = "ransom" in text.casefold() or event.type == "AttackRansom"
            properties: dict[str, Any] = {"is_family": True}
            if ransomware:
                properties["malware_types"] = ["ransomware"]
            found.append(linked.entity("malware", text, properties))
        else:
            found.append(linked.entity("tool", text))
    elif role == "Attack-Pattern":
        found.append(linked.entity("attack-pattern", text))
    return [entity for entity in found if entity is not None]


def _link_event(linked: Linked, event: Event, where: Mention) -> list[str]:
    """The entities and relationships of one event; returns their ids."""
    by_role: dict[str, list[Entity]] = {}
    for argument in event.arguments:
        for entity in _entities_of(linked, argument, event):
            entity.mentions.append(Mention(where.document, where.sentence, argument.start, argument.end))
            if argument.role not in entity.roles:
                entity.roles.append(argument.role)
            by_role.setdefault(argument.role, []).append(entity)

    def kinds(roles: Sequence[str], *types: str) -> list[Entity]:
        out = [entity for role in roles for entity in by_role.get(role, []) if entity.type in types]
        return list({entity.id: entity for entity in out}.values())

    attackers = kinds(["Attacker"], "threat-actor", "intrusion-set")
    victims = kinds(["Victim", "Vulnerable_System_Owner"], "identity")
    victim_systems = kinds(["Victim"], "infrastructure")
    vulnerabilities = kinds(["CVE", "Vulnerability"], "vulnerability")
    tools = kinds(["Tool"], "malware", "tool")
    patterns = kinds(["Attack-Pattern"], "attack-pattern")
    patches = kinds(["Patch"], "course-of-action")
    systems = kinds(["Vulnerable_System"], "infrastructure")
    owners = kinds(["Vulnerable_System_Owner"], "identity")
    label = (
        f"{event.type} ({event.realis}) '{' '.join(event.trigger.text.split())}' in sentence {where.sentence} of "
        f"{where.document} (characters {event.trigger.start}-{event.trigger.end})"
    )
    links: list[Link] = []
    for attacker in attackers:
        links += [linked.link(attacker, "targets", target, label) for target in (*victims, *vulnerabilities)]
        links += [linked.link(attacker, "compromises", system, label) for system in victim_systems]
        links += [linked.link(attacker, "uses", used, label) for used in (*tools, *patterns)]
        if attacker.type == "intrusion-set":
            others = [actor for actor in attackers if actor.type == "threat-actor"]
            links += [linked.link(attacker, "attributed-to", actor, label) for actor in others]
    for used in (*tools, *patterns):
        targets = [*victims, *vulnerabilities]
        if used.type != "attack-pattern":
            targets += victim_systems
        links += [linked.link(used, "targets", target, label) for target in targets]
    for vulnerability in vulnerabilities:
        links += [linked.link(patch, "mitigates", vulnerability, label) for patch in patches]
        links += [linked.link(system, "has", vulnerability, label) for system in systems]
    links += [linked.link(owner, "related-to", system, label) for owner in owners for system in systems]
    entities = [entity for group in by_role.values() for entity in group]
    return [*dict.fromkeys(entity.id for entity in entities), *dict.fromkeys(link.id for link in links)]


def link_document(linked: Linked, name: str, tagged: Sequence[TaggedSentence]) -> list[str]:
    """Add the entities and relationships of every event of one document (``name``: its name in the bundle) to
    ``linked``; returns their ids in order of first mention."""
    refs: list[str] = []
    for s, event in sentence_events(tagged):
        refs += _link_event(linked, event, Mention(name, s.index, event.trigger.start, event.trigger.end))
    return list(dict.fromkeys(refs))


def cve_mention(linked: Linked, cve: str, where: Mention) -> Entity | None:
    """The vulnerability of a CVE id found by indicator extraction (the same object as an argument naming it)."""
    entity = _cve_entity(linked, cve)
    if entity is not None:
        entity.mentions.append(where)
    return entity


def _description(entity: Entity) -> str:
    places = [m.describe() for m in entity.mentions[:_MAX_MENTIONS]]
    more = len(entity.mentions) - len(places)
    text = f"{entity.name}, " + (f"named as {', '.join(entity.roles)} " if entity.roles else "mentioned ")
    text += f"in {'; '.join(places)}" + (f" and {more} more" if more > 0 else "") + "."
    if entity.wordings:
        text += " Also called: " + "; ".join(f"'{w}'" for w in entity.wordings) + "."
    return text


def entity_object(entity: Entity, common: dict[str, Any], description: str | None = None) -> Any:
    """The STIX object of an entity (``common``: created_by_ref, created, modified)."""
    text = description or _description(entity)
    fields = {"id": entity.id, "name": entity.name, "description": text, **common, **entity.properties}
    classes: dict[str, Any] = {
        "threat-actor": stix2.ThreatActor,
        "intrusion-set": stix2.IntrusionSet,
        "identity": stix2.Identity,
        "infrastructure": stix2.Infrastructure,
        "vulnerability": stix2.Vulnerability,
        "course-of-action": stix2.CourseOfAction,
        "malware": stix2.Malware,
        "tool": stix2.Tool,
        "attack-pattern": stix2.AttackPattern,
    }
    return classes[entity.type](**fields)


def link_object(link: Link, linked: Linked, common: dict[str, Any]) -> Any:
    names = {entity.id: entity.name for entity in linked.entities.values()}
    listed = link.events[:_MAX_MENTIONS]
    more = len(link.events) - len(listed)
    description = (
        f"{names[link.source]} {link.type} {names[link.target]}, as stated by the event(s): {'; '.join(listed)}"
        + (f" and {more} more" if more > 0 else "")
        + "."
    )
    return stix2.Relationship(
        id=link.id,
        relationship_type=link.type,
        source_ref=link.source,
        target_ref=link.target,
        description=description,
        **common,
    )


__all__ = [
    "ENTITY_NAMESPACE",
    "ROLE_OBJECTS",
    "Entity",
    "Link",
    "Linked",
    "Mention",
    "cve_mention",
    "entity_id",
    "entity_object",
    "link_document",
    "link_object",
    "normalise",
]
