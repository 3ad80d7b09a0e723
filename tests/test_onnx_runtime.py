"""The onnxruntime serving helpers: batches, and the background prefetch that overlaps the graph with decoding."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from threatevents.models import load_model
from threatevents.models.event_extractor import EVENT_OUTPUTS
from threatevents.models.onnx_runtime import OUTPUT_NAME, prefetch


def _prefetch_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "threatevents-prefetch"]


def test_prefetch_yields_every_item_in_order() -> None:
    assert list(prefetch(iter(range(50)), 2)) == list(range(50))
    assert list(prefetch(iter([]), 1)) == []
    assert not _prefetch_threads()


def test_prefetch_raises_the_producers_error_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("graph failed")

    got = []
    with pytest.raises(RuntimeError, match="graph failed"):
        for item in prefetch(items(), 3):
            got.append(item)
    assert got == [1, 2]
    assert not _prefetch_threads()


def test_prefetch_stops_its_producer_when_the_consumer_stops_early() -> None:
    made = itertools.count()

    def endless() -> Iterator[int]:
        while True:
            yield next(made)

    stream = prefetch(endless(), 2)
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()  # what a `break` or a collected generator does
    assert not _prefetch_threads()
    produced = next(made)
    assert produced <= 5 + 2 + 2  # what was taken, the queue's room, and at most one item in the making

    with pytest.raises(KeyError):  # an error in the consumer's own loop body stops the producer too
        for item in prefetch(endless(), 2):
            if item > produced + 3:
                raise KeyError(item)
    assert not _prefetch_threads()


def test_prefetch_refuses_a_size_below_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        list(prefetch(iter([1]), 0))


def test_batches_ahead_give_the_same_batches_and_values_as_in_line() -> None:
    model = load_model("events")
    runtime = model._runtime
    assert runtime is not None
    runtime_batch = runtime.batch_size
    runtime.batch_size = 3  # several batches from a few inputs
    try:
        texts = [f"Attackers stole {n} records from the hospital's servers in a breach." for n in range(4)]
        texts += ["A patch for the flaw was released.", "Nothing happened.", "Ransomware encrypted the files."]
        encoded = runtime.encode([texts])
        names = (OUTPUT_NAME, *EVENT_OUTPUTS)
        in_line = list(runtime.batches(encoded, names))
        ahead = list(runtime.batches(encoded, names, ahead=2))
    finally:
        runtime.batch_size = runtime_batch
    assert len(in_line) == len(ahead) == 3
    for (batch, rows), (batch_ahead, rows_ahead) in zip(in_line, ahead, strict=True):
        assert batch.tolist() == batch_ahead.tolist()
        for row, row_ahead in zip(rows, rows_ahead, strict=True):
            assert len(row) == len(names)
            for a, b in zip(row, row_ahead, strict=True):
                np.testing.assert_array_equal(a, b)
    # every input once, each cut to its own token length
    flat = [(i, row) for batch, rows in in_line for i, row in zip(batch.tolist(), rows, strict=True)]
    assert sorted(i for i, _ in flat) == list(range(len(texts)))
    for i, row in flat:
        assert row[names.index("trigger_logits")].shape[0] == len(encoded[i][0])


def test_events_pass_gives_the_same_labels_and_events_with_the_graph_ahead_or_in_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from threatevents.models import transformer

    model = load_model("events")
    assert model._runtime is not None
    monkeypatch.setattr(model._runtime, "batch_size", 2)  # several batches, decoded out of document order
    docs = [
        [
            "Hackers stole the records of 40,000 patients from the clinic in March.",
            "The clinic said the attackers sent phishing emails to its staff.",
            "A ransomware gang then demanded 50 bitcoin.",
        ],
        ["Researchers found a flaw, CVE-2026-1234, in the router's firmware.", "The vendor released a patch."],
    ]
    ahead = model.predict_proba_and_events(docs)
    monkeypatch.setattr(transformer, "EVENTS_PREFETCH", 0)
    in_line = model.predict_proba_and_events(docs)
    np.testing.assert_array_equal(ahead[0], in_line[0])
    assert ahead[1] == in_line[1]
    assert any(sentence for doc in ahead[1] for sentence in doc)  # the documents do hold events
