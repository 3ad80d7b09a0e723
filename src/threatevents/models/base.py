"""The one model interface every model kind implements, and the saved-model directory format.

A model scores the five event labels of every sentence; ``O`` is derived (no event above its
threshold). Inputs are *documents*: each a :class:`~threatevents.corpus.Document` or a plain
sequence of sentence strings, so that kinds which read context (the headline, neighbouring
sentences) see it. Outputs are flat over all sentences of all documents, in order.

A saved model is a directory::

    config.json      kind, package version, the kind's config dataclass
    labels.json      event label order of the score columns
    thresholds.json  per-label decision thresholds (tuned on dev)
    metrics.json     evaluation results written by training (may be empty)
    README.md        model card
    <weights>        kind-specific, safe formats only (JSON, .npy without pickle, ONNX, safetensors)
    manifest.json    sha256 of every other file, checked at load
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from abc import ABC, abstractmethod
from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any, ClassVar, Self, TypeVar

import numpy as np

from ..corpus import Document
from ..events import Event, join_sentences
from ..labels import EVENT_LABELS, events_to_matrix, matrix_to_labels
from ..tagging import tag_text, tag_texts
from .card import render_card

MANIFEST = "manifest.json"
DocLike = Document | Sequence[str]


class ModelLoadError(RuntimeError):
    """A model directory that is missing, incomplete, tampered with or of an unknown kind."""


def doc_texts(doc: DocLike) -> list[str]:
    return doc.texts if isinstance(doc, Document) else list(doc)


def flatten_texts(docs: Sequence[DocLike]) -> list[str]:
    return [text for doc in docs for text in doc_texts(doc)]


def flatten_labels(docs: Sequence[Document]) -> np.ndarray:
    return events_to_matrix([labels for doc in docs for labels in doc.labels])


@dataclasses.dataclass
class ModelConfig:
    """Base for each kind's configuration. Subclasses validate themselves in ``__post_init__``."""

    seed: int = 13

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError("seed must be a non-negative integer")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**values)  # type: ignore[arg-type]  # each subclass declares its own fields


C = TypeVar("C", bound=ModelConfig)


def given_per_sentence(
    docs: Sequence[DocLike], triggers: Sequence[Sequence[Event]], starts: Sequence[Sequence[int]] | None = None
) -> list[list[list[tuple[int, int, int]]]]:
    """Given triggers (see :meth:`EventModel.predict_arguments`) per document and sentence, as ``(start, end,
    event label index)`` in the sentence's characters; :class:`ValueError` naming the document on a bad one."""
    texts = [doc_texts(doc) for doc in docs]
    starts = [join_sentences(doc)[1] for doc in texts] if starts is None else starts
    if len(triggers) != len(texts) or len(starts) != len(texts):
        raise ValueError(f"triggers and starts must give one list per document ({len(texts)})")
    out: list[list[list[tuple[int, int, int]]]] = []
    for d, (doc, events, at) in enumerate(zip(texts, triggers, starts, strict=True)):
        if len(at) != len(doc) or any(a > b for a, b in pairwise(at)):
            raise ValueError(f"document {d}: starts must give one offset per sentence, in order")
        per_sentence: list[list[tuple[int, int, int]]] = [[] for _ in doc]
        for event in events:
            start, end = event.trigger.start, event.trigger.end
            if event.type not in EVENT_LABELS:
                raise ValueError(f"document {d}: unknown event type {event.type!r}")
            i = bisect_right(at, start) - 1
            if i < 0 or not start < end <= at[i] + len(doc[i]):
                raise ValueError(f"document {d}: trigger {start}-{end} does not lie inside one sentence")
            per_sentence[i].append((start - at[i], end - at[i], EVENT_LABELS.index(event.type)))
        out.append(per_sentence)
    return out


class EventModel(ABC):
    """Multi-label sentence classifier over :data:`~threatevents.labels.EVENT_LABELS`."""

    kind: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]]

    def __init__(self, config: ModelConfig | None = None) -> None:
        self.config = config if config is not None else self.config_class()
        self.thresholds = np.full(len(EVENT_LABELS), 0.5)
        self.metrics: dict[str, Any] = {}
        self.path: Path | None = None
        # Intra-op threads for kinds whose runtime has a thread pool (onnxruntime); None: the runtime's default.
        self.threads: int | None = None
        #: Analyst-reviewed event targets by normalised sentence text, each event in its sentence's own frame
        #: (:func:`threatevents.feedback.merge_event_feedback`): kinds with an event extractor train on them in
        #: ``fit``, overriding the annotation of those sentences; other kinds ignore them.
        self.event_supervision: dict[str, list[Event]] = {}
        #: False: a kind with an event extractor runs none of it and returns no events (sentence labels only,
        #: ``threatevents tag --no-events``); kinds without one return no events either way.
        self.events_enabled = True

    # -- the interface -------------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        """Train on ``train``; kinds may use ``dev`` for early stopping. Thresholds are tuned separately."""

    @abstractmethod
    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        """Event probabilities, shape ``(total sentences, 5)``, columns in :data:`EVENT_LABELS` order."""

    #: Whether :meth:`predict_events` can return events (kinds with an event extractor set it).
    has_event_extractor: ClassVar[bool] = False

    def predict_events(self, docs: Sequence[DocLike]) -> list[list[Event]]:
        """Structured events per document, with offsets into the document's sentences joined by
        :data:`~threatevents.events.SENTENCE_SEPARATOR` (:func:`~threatevents.events.join_sentences`),
        so an argument may sit in another sentence than its trigger. Kinds without an event extractor
        (``has_event_extractor`` false) return no events."""
        return [[] for _ in docs]

    def predict_arguments(
        self,
        docs: Sequence[DocLike],
        triggers: Sequence[Sequence[Event]],
        starts: Sequence[Sequence[int]] | None = None,
    ) -> list[list[Event]]:
        """Realis and arguments for given triggers (an analyst's, or the gold ones to score the argument stage alone).

        ``triggers[d]`` are events of document ``d``; only each one's type and trigger span are read, and the span
        must lie inside one sentence. Offsets are in the frame where sentence ``j`` of document ``d`` starts at
        ``starts[d][j]`` (by default the sentences joined, the frame of :meth:`predict_events`). Returns, per
        document and in sentence order, one event per trigger (two alike in a sentence give one; one with no token
        in its sentence's window, e.g. only spaces or cut off, is left out) with realis and arguments decoded as
        :meth:`predict_events` decodes those of a found trigger (pooling the tokens under its characters), score
        1.0, in the same frame; kinds without an event extractor (or with events switched off) return no events.
        :class:`ValueError` on a bad trigger or ``starts`` out of order.
        """
        given_per_sentence(docs, triggers, starts)
        return [[] for _ in docs]

    def predict(self, docs: Sequence[DocLike]) -> list[tuple[str, ...]]:
        """Label tuples per sentence (``("O",)`` when no event passes its threshold)."""
        return self.decide(self.predict_proba(docs))

    def decide(self, probs: np.ndarray) -> list[tuple[str, ...]]:
        return matrix_to_labels(np.asarray(probs) >= self.thresholds)

    def tune_thresholds(self, dev: Sequence[Document]) -> np.ndarray:
        """Set per-label thresholds that maximise F1 on ``dev``; returns them."""
        from .thresholds import tune_thresholds

        self.thresholds = tune_thresholds(flatten_labels(dev), self.predict_proba(dev))
        return self.thresholds

    # -- Python API conveniences (implemented in threatevents.tagging) ---------------------------
    def tag(self, text: str, *, title: str | None = None, document: str = "text") -> list[dict[str, Any]]:
        """Tag raw text; returns the same records as ``threatevents tag --format jsonl`` (see :func:`tag_text`)."""
        return tag_text(self, text, title=title, document=document)

    def tag_many(
        self, texts: Sequence[str], *, titles: Sequence[str | None] | None = None, names: Sequence[str] | None = None
    ) -> list[list[dict[str, Any]]]:
        """Tag several raw texts in one batch (see :func:`threatevents.tagging.tag_texts`)."""
        return tag_texts(self, texts, titles=titles, names=names)

    # -- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def _save_weights(self, path: Path) -> None: ...

    @abstractmethod
    def _load_weights(self, path: Path) -> None: ...

    def card_details(self) -> str:
        """Kind-specific Markdown for the model card (base encoder, licence, speed...)."""
        return ""

    def save(self, path: str | Path) -> Path:
        from .._version import __version__

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        _write_json(
            path / "config.json",
            {"kind": self.kind, "threatevents_version": __version__, "config": self.config.to_dict()},
        )
        _write_json(path / "labels.json", list(EVENT_LABELS))
        _write_json(path / "thresholds.json", dict(zip(EVENT_LABELS, map(float, self.thresholds), strict=True)))
        _write_json(path / "metrics.json", self.metrics)
        self._save_weights(path)
        card = render_card(
            self.kind, self.config.to_dict(), self.thresholds.tolist(), self.metrics, self.card_details()
        )
        (path / "README.md").write_text(card, encoding="utf-8")
        write_manifest(path)
        self.path = path
        return path

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None) -> Self:
        """Load a saved model; ``threads`` caps the intra-op threads of kinds that have them (onnxruntime)."""
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, not {threads}")
        path = Path(path)
        config = read_model_config(path)
        if config.get("kind") != cls.kind:
            raise ModelLoadError(f"{path} holds a {config.get('kind')!r} model, not {cls.kind!r}")
        model = cls(cls.config_class.from_dict(config.get("config", {})))
        labels = _read_json(path / "labels.json")
        if labels != list(EVENT_LABELS):
            raise ModelLoadError(f"{path}: labels {labels} do not match this version's {list(EVENT_LABELS)}")
        thresholds = _read_json(path / "thresholds.json")
        model.thresholds = np.array([float(thresholds[name]) for name in EVENT_LABELS])
        model.metrics = _read_json(path / "metrics.json")
        model.threads = threads
        model._load_weights(path)
        model.path = path
        return model


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"cannot read {path}: {exc}") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(path: Path) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file() and p.name != MANIFEST)
    _write_json(path / MANIFEST, {p.relative_to(path).as_posix(): _sha256(p) for p in files})


def verify_manifest(path: Path) -> None:
    """Refuse a model directory whose files do not match its sha256 manifest."""
    if not path.is_dir():
        raise ModelLoadError(f"model directory not found: {path}")
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise ModelLoadError(f"{path} is not a threatevents model: {MANIFEST} is missing")
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict) or not manifest:
        raise ModelLoadError(f"{manifest_path} is malformed")
    for name, expected in manifest.items():
        file = path / name
        if not file.is_file():
            raise ModelLoadError(f"model directory {path} is incomplete: {name} is missing")
        if _sha256(file) != expected:
            raise ModelLoadError(
                f"model file {file} does not match its sha256 in {MANIFEST}: "
                "the model was modified or truncated; refusing to load it"
            )


def read_model_config(path: Path) -> dict[str, Any]:
    verify_manifest(path)
    config = _read_json(path / "config.json")
    if not isinstance(config, dict) or "kind" not in config:
        raise ModelLoadError(f"{path}/config.json has no model kind")
    return config
