"""threatevents: find cyber events in threat reports, sentence by sentence.

>>> import threatevents
>>> model = threatevents.load_model()            # the shipped default model
>>> records = model.tag("Ransomware encrypted the city's servers.")

Public names are imported on first use, so ``import threatevents`` stays cheap.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from ._version import __version__

_EXPORTS = {
    "corpus": ["Corpus", "Document", "ReadReport", "Sentence", "read_corpus", "read_document", "write_corpus"],
    "ingest": ["IngestedDocument", "IngestError", "ingest_bytes", "ingest_path", "ingest_text"],
    "labels": ["ALL_LABELS", "EVENT_LABELS", "LABEL_INFO", "O"],
    "models": ["EventModel", "ModelLoadError", "load_model"],
    "tagging": ["TaggedSentence", "tag_documents", "tag_text", "tag_texts"],
    "evaluate": ["evaluate_model"],
    "train": ["train_model"],
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = [
    "ALL_LABELS",
    "EVENT_LABELS",
    "LABEL_INFO",
    "Corpus",
    "Document",
    "EventModel",
    "IngestError",
    "IngestedDocument",
    "ModelLoadError",
    "O",
    "ReadReport",
    "Sentence",
    "TaggedSentence",
    "__version__",
    "evaluate_model",
    "ingest_bytes",
    "ingest_path",
    "ingest_text",
    "load_model",
    "read_corpus",
    "read_document",
    "tag_documents",
    "tag_text",
    "tag_texts",
    "train_model",
    "write_corpus",
]

logging.getLogger(__name__).addHandler(logging.NullHandler())


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if TYPE_CHECKING:  # pragma: no cover
    from .corpus import Corpus, Document, ReadReport, Sentence, read_corpus, read_document, write_corpus
    from .evaluate import evaluate_model
    from .ingest import IngestedDocument, IngestError, ingest_bytes, ingest_path, ingest_text
    from .labels import ALL_LABELS, EVENT_LABELS, LABEL_INFO, O
    from .models import EventModel, ModelLoadError, load_model
    from .tagging import TaggedSentence, tag_documents, tag_text, tag_texts
    from .train import train_model
