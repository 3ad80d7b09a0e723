"""Analyst reviews as training data: merge reviewed sentences into a training set, where a review
overrides the corpus label of the same sentence.

Sentences are matched on normalised text (Unicode NFKC, case-folded, whitespace collapsed), so a
sentence the analyst reviewed in an uploaded report corrects the identical corpus sentence. The
reviews come in as plain corpus documents; reading them from a workbench database is the service's
job (:func:`threatevents.service.feedback_source.load_feedback_documents`).

Reviewed events (accepted, corrected, added, deleted) become event supervision: :class:`EventFeedback` per
stored document, and :func:`merge_event_feedback` turns them into the extractor's targets per sentence.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from .corpus import Document, Sentence, normalise
from .events import Event, Span, join_sentences

log = logging.getLogger(__name__)


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


# -- events --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EventFeedback:
    """The analyst's events of one stored document, as event supervision for training.

    ``texts`` are the document's sentences (whitespace collapsed, as corpus sentences are) and ``labels`` their
    labels; ``reviewed`` the indexes of the sentences whose events an analyst reviewed (accepted, corrected, added
    or deleted one); ``events`` the events of those sentences as reviewed (deleted events and arguments left
    out), with offsets in the frame of ``texts`` joined by :func:`~threatevents.events.join_sentences`: the
    target format of the extractor (:func:`~threatevents.event_evaluation.events_in_sentences`). A reviewed
    sentence without events says "no event here": the model's deleted events are negatives."""

    id: str
    texts: tuple[str, ...]
    labels: tuple[tuple[str, ...], ...]
    reviewed: frozenset[int]
    events: tuple[Event, ...]

    def sentence_events(self, index: int) -> list[Event]:
        """The events whose trigger lies in sentence ``index`` (joined frame)."""
        starts = join_sentences(self.texts)[1]
        start, end = starts[index], starts[index] + len(self.texts[index])
        return [e for e in self.events if start <= e.trigger.start and e.trigger.end <= end]


def event_feedback(
    doc_id: str,
    content: str,
    sentences: Sequence[str],
    labels: Sequence[Sequence[str]],
    reviewed: Iterable[int],
    events: Sequence[Event],
) -> EventFeedback:
    """:class:`EventFeedback` from a stored document: its ``content``, its ``sentences`` as stored (substrings of
    ``content``), their labels, the reviewed sentence indexes and the reviewed events of those sentences in
    ``content`` offsets.

    Sentence texts get their whitespace collapsed (as in the corpus); events move into the frame of the joined
    sentences; one whose span cannot be placed is dropped (and logged)."""
    from .event_evaluation import events_in_sentences

    texts = tuple(" ".join(text.split()) for text in sentences)
    kept = frozenset(reviewed)
    placed, lost_events, lost_arguments = events_in_sentences(events, list(texts), content)
    if lost_events or lost_arguments:
        log.info("review %s: %d events and %d arguments could not be placed", doc_id, lost_events, lost_arguments)
    return EventFeedback(doc_id, texts, tuple(tuple(ls) for ls in labels), kept, tuple(placed))


def merge_event_feedback(
    train_docs: Sequence[Document], feedback: Sequence[EventFeedback]
) -> tuple[list[Document], dict[str, list[Event]]]:
    """``train_docs`` plus the event-reviewed sentences they lack, and the event targets of every
    event-reviewed sentence: ``{normalised sentence text: events}``, each event in the sentence's own frame
    (offsets from the sentence start; an argument in a neighbouring sentence is left out: the training sentence
    may have other neighbours). A training sentence with the same text gets these targets instead of its
    annotation's (like :func:`merge_feedback` overrides labels); for a sentence reviewed twice the last wins.

    Sentences not found in ``train_docs`` are appended as documents ``<feedback id>-events-<k>``, one per run of
    consecutive reviewed sentences (so that each keeps its true neighbours), labelled by their reviewed labels.
    Inputs are not modified."""
    targets: dict[str, list[Event]] = {}
    for item in feedback:
        starts = join_sentences(item.texts)[1]
        for index in sorted(item.reviewed):
            at, length = starts[index], len(item.texts[index])
            local = []
            for event in item.sentence_events(index):
                arguments = [
                    replace(a, start=a.start - at, end=a.end - at)
                    for a in event.arguments
                    if at <= a.start and a.end <= at + length
                ]
                trigger = Span(event.trigger.start - at, event.trigger.end - at, event.trigger.text)
                local.append(replace(event, trigger=trigger, arguments=arguments))
            targets[normalise(item.texts[index])] = local
    known = {normalise(s.text) for doc in train_docs for s in doc.sentences}
    merged = [Document(doc.id, list(doc.sentences)) for doc in train_docs]
    added = 0
    for item in feedback:
        run: list[Sentence] = []
        runs: list[list[Sentence]] = []
        for index, (text, labels) in enumerate(zip(item.texts, item.labels, strict=True)):
            new = index in item.reviewed and normalise(text) not in known
            if new:
                known.add(normalise(text))
                run.append(Sentence(text, tuple(labels)))
            elif run:
                runs.append(run)
                run = []
        if run:
            runs.append(run)
        for k, sentences in enumerate(runs):
            merged.append(Document(f"{item.id}-events-{k}", sentences))
            added += len(sentences)
    log.info("event reviews: %d sentences supervised, %d of them new", len(targets), added)
    return merged, targets
