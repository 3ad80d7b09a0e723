"""Analyst reviews as training data: merge reviewed sentences into a training set, where a review
overrides the corpus label of the same sentence.

Sentences are matched on normalised text (Unicode NFKC, case-folded, whitespace collapsed), so a
sentence the analyst reviewed in an uploaded report corrects the identical corpus sentence. The
reviews come in as plain corpus documents; reading them from a workbench database is the service's
job (:func:`threatevents.service.feedback_source.load_feedback_documents`).
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Sequence

from .corpus import Document, Sentence

log = logging.getLogger(__name__)


def normalise(text: str) -> str:
    """The matching key of a sentence."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def merge_feedback(train_docs: Sequence[Document], feedback_docs: Sequence[Document]) -> list[Document]:
    """``train_docs`` with reviews applied, plus the reviewed sentences not found in them.

    For a sentence reviewed more than once (in several documents), the last in ``feedback_docs`` wins.
    Matching corpus sentences keep their place and document; new sentences are appended as the feedback
    documents they came from (without the sentences that matched). Inputs are not modified.
    """
    reviews: dict[str, tuple[str, ...]] = {}
    for doc in feedback_docs:
        for sentence in doc.sentences:
            reviews[normalise(sentence.text)] = sentence.labels
    matched: set[str] = set()
    overridden = changed = 0
    merged: list[Document] = []
    for doc in train_docs:
        sentences = []
        for sentence in doc.sentences:
            key = normalise(sentence.text)
            if key in reviews:
                matched.add(key)
                overridden += 1
                changed += reviews[key] != sentence.labels
                sentence = Sentence(sentence.text, reviews[key])
            sentences.append(sentence)
        merged.append(Document(doc.id, sentences))
    added = 0
    seen: set[str] = set(matched)
    for doc in feedback_docs:
        new = []
        for sentence in doc.sentences:
            key = normalise(sentence.text)
            if key not in seen:
                seen.add(key)
                new.append(Sentence(sentence.text, reviews[key]))
        if new:
            added += len(new)
            merged.append(Document(doc.id, new))
    log.info(
        "reviews: %d corpus sentences overridden (%d with different labels), %d new sentences added",
        overridden,
        changed,
        added,
    )
    return merged
