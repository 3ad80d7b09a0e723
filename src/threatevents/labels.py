"""The event schema: the five event types, ``O``, descriptions and display colours.

Every other module takes its label names, order and colours from here. Models score
the five event labels only; ``O`` is derived: a sentence is ``O`` exactly when no
event label is predicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

O = "O"  # noqa: E741 - the label is called O in the data and the literature


@dataclass(frozen=True)
class LabelInfo:
    name: str
    description: str
    colour: str  # CSS colour used by the HTML outputs


EVENT_INFO: tuple[LabelInfo, ...] = (
    LabelInfo("AttackDatabreach", "Data was stolen, leaked or exposed by an attack or breach.", "#e4572e"),
    LabelInfo(
        "AttackPhishing", "Deceptive messages or sites that trick people into giving up data or access.", "#f3a712"
    ),
    LabelInfo("AttackRansom", "Ransomware or extortion: data or systems held for a payment.", "#a23b72"),
    LabelInfo("DiscoverVulnerability", "A security flaw is found, disclosed or reported.", "#2e86ab"),
    LabelInfo(
        "PatchVulnerability", "A fix, update or mitigation for a vulnerability is released or applied.", "#3bb273"
    ),
)
O_INFO = LabelInfo(O, "No cyber event is described.", "#d9d9d9")

EVENT_LABELS: tuple[str, ...] = tuple(info.name for info in EVENT_INFO)
ALL_LABELS: tuple[str, ...] = (*EVENT_LABELS, O)
LABEL_INFO: dict[str, LabelInfo] = {info.name: info for info in (*EVENT_INFO, O_INFO)}


class LabelError(ValueError):
    """An unknown label, or ``O`` together with an event label."""


def check_labels(labels: Iterable[str]) -> tuple[str, ...]:
    """Validate and canonicalise a label set: schema order, no duplicates.

    An empty set becomes ``("O",)``. Raises :class:`LabelError` for an unknown label or for
    ``O`` mixed with an event label.
    """
    found = set(labels)
    unknown = sorted(found - set(ALL_LABELS))
    if unknown:
        raise LabelError(f"unknown label(s) {', '.join(map(repr, unknown))}; expected one of {', '.join(ALL_LABELS)}")
    if O in found and len(found) > 1:
        raise LabelError(f"'O' cannot be combined with event labels ({', '.join(sorted(found - {O}))})")
    events = tuple(name for name in EVENT_LABELS if name in found)
    return events or (O,)


def events_to_matrix(label_sets: Sequence[Sequence[str]]) -> np.ndarray:
    """Binary indicator matrix of shape ``(n, 5)`` over :data:`EVENT_LABELS`."""
    index = {name: i for i, name in enumerate(EVENT_LABELS)}
    out = np.zeros((len(label_sets), len(EVENT_LABELS)), dtype=np.int8)
    for row, labels in enumerate(label_sets):
        for name in labels:
            if name != O:
                out[row, index[name]] = 1
    return out


def with_o_column(events: np.ndarray) -> np.ndarray:
    """Append the derived ``O`` column (1 where no event is set) to an ``(n, 5)`` matrix."""
    events = np.asarray(events)
    o_col = (events.sum(axis=1) == 0).astype(events.dtype)
    return np.concatenate([events, o_col[:, None]], axis=1)


# Every subset of the five events, indexed by its bit mask (bit j = EVENT_LABELS[j]).
_BY_MASK: list[tuple[str, ...]] = [
    tuple(name for j, name in enumerate(EVENT_LABELS) if mask >> j & 1) or (O,)
    for mask in range(1 << len(EVENT_LABELS))
]
_BITS = 1 << np.arange(len(EVENT_LABELS))


def matrix_to_labels(events: np.ndarray) -> list[tuple[str, ...]]:
    """Turn an ``(n, 5)`` binary matrix back into canonical label tuples (``O`` when empty)."""
    masks = (np.asarray(events) != 0).astype(np.int64) @ _BITS
    return [_BY_MASK[m] for m in masks.tolist()]


def o_score(event_probs: np.ndarray) -> np.ndarray:
    """Score for ``O``: one minus the highest event probability of each row."""
    event_probs = np.asarray(event_probs, dtype=float)
    if event_probs.size == 0:
        return np.zeros(event_probs.shape[0])
    return 1.0 - event_probs.max(axis=1)


# -- structured events (CASIE) -----------------------------------------------------------------------------

#: CASIE ``(type, subtype)`` of an event to our event label (the subtypes as the annotation files spell them).
CASIE_EVENT_TYPES: dict[tuple[str, str], str] = {
    ("Attack", "Databreach"): "AttackDatabreach",
    ("Attack", "Phishing"): "AttackPhishing",
    ("Attack", "Ransom"): "AttackRansom",
    ("Vulnerability-related", "DiscoverVulnerability"): "DiscoverVulnerability",
    ("Vulnerability-related", "PatchVulnerability"): "PatchVulnerability",
}
#: Our event label to its CASIE ``(type, subtype)``.
EVENT_CASIE_TYPES: dict[str, tuple[str, str]] = {label: kind for kind, label in CASIE_EVENT_TYPES.items()}

#: An event's realis: it happened (``Actual``), is spoken of in general (``Generic``), or neither (``Other``:
#: planned, hypothetical, denied...).
REALIS: tuple[str, ...] = ("Actual", "Generic", "Other")

#: The 26 argument roles of CASIE, the one list every module takes roles from.
ARGUMENT_ROLES: tuple[str, ...] = (
    "Attack-Pattern",
    "Attacker",
    "Capabilities",
    "CVE",
    "Compromised-Data",
    "Damage-Amount",
    "Discoverer",
    "Issues-Addressed",
    "Number-of-Data",
    "Number-of-Victim",
    "Patch",
    "Patch-Number",
    "Payment-Method",
    "Place",
    "Price",
    "Purpose",
    "Releaser",
    "Supported_Platform",
    "Time",
    "Tool",
    "Trusted-Entity",
    "Victim",
    "Vulnerability",
    "Vulnerable_System",
    "Vulnerable_System_Owner",
    "Vulnerable_System_Version",
)
