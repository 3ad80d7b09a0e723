"""Transformer inference on onnxruntime + tokenizers: no torch needed to tag.

:class:`OnnxClassifier` holds a tokenizer and an ONNX graph mapping ``input_ids``,
``attention_mask`` and ``token_type_ids`` to sigmoid event probabilities. Inputs are grouped by
token length (sort, batch, unsort) so that batches carry little padding.

:func:`build_pairs` turns documents into the ``(sentence, context)`` text pairs the model reads and
:func:`encode_documents` encodes them; training and inference share them, so both see the same context.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar, cast, get_args

import numpy as np

from ..labels import EVENT_LABELS

if TYPE_CHECKING:
    from tokenizers import Tokenizer

ContextMode = Literal["none", "headline", "neighbours", "headline+neighbours"]
CONTEXT_MODES: tuple[str, ...] = get_args(ContextMode)
INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "probs"
_CONTEXT_JOIN = " … "
T = TypeVar("T")


def build_pairs(docs: Sequence[Sequence[str]], context: str) -> list[tuple[str, str | None]]:
    """One ``(sentence, context)`` pair per sentence; context is ``None`` for ``"none"``.

    ``headline`` is the document's first sentence (empty for the headline itself);
    ``neighbours`` the previous and next sentences. Parts are joined with an ellipsis.
    """
    if context not in CONTEXT_MODES:
        raise ValueError(f"unknown context {context!r}; expected one of {', '.join(CONTEXT_MODES)}")
    pairs: list[tuple[str, str | None]] = []
    for texts in docs:
        for i, text in enumerate(texts):
            if context == "none":
                pairs.append((text, None))
                continue
            parts = []
            if "headline" in context and i > 0:
                parts.append(texts[0])
            if "neighbours" in context:
                parts += [texts[j] for j in (i - 1, i + 1) if 0 <= j < len(texts) and not (j == 0 and parts)]
            pairs.append((text, _CONTEXT_JOIN.join(parts)))
    return pairs


def load_tokenizer(tokenizer_json: str, max_length: int) -> Tokenizer:
    """A tokenizer from the text of a ``tokenizer.json``, truncating pairs to ``max_length``, no padding."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_str(tokenizer_json)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length, strategy="longest_first")
    return tokenizer


def encode_pairs(tokenizer: Tokenizer, pairs: Sequence[tuple[str, str | None]]) -> list[tuple[list[int], list[int]]]:
    """Token ids and token type ids of each pair (an empty context counts as no context)."""
    singles = [i for i, (_, ctx) in enumerate(pairs) if not ctx]
    doubles = [i for i, (_, ctx) in enumerate(pairs) if ctx]
    out: list[tuple[list[int], list[int]]] = [([], [])] * len(pairs)
    if singles:
        for i, enc in zip(singles, tokenizer.encode_batch([pairs[i][0] for i in singles]), strict=True):
            out[i] = (enc.ids, enc.type_ids)
    if doubles:
        for i, enc in zip(doubles, tokenizer.encode_batch([pairs[i] for i in doubles]), strict=True):
            out[i] = (enc.ids, enc.type_ids)
    return out


def encode_documents(
    tokenizer: Tokenizer, docs: Sequence[Sequence[str]], context: str
) -> list[tuple[list[int], list[int]]]:
    """Every sentence of ``docs`` encoded with its ``context`` (see :func:`build_pairs`), flat and in order."""
    return encode_pairs(tokenizer, build_pairs(docs, context))


def length_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (longest first)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def pad_batch(encoded: Sequence[tuple[list[int], list[int]]]) -> dict[str, np.ndarray]:
    """Right-pad a batch to its longest member; int64 arrays named as the ONNX inputs."""
    width = max(len(ids) for ids, _ in encoded)
    arrays = {name: np.zeros((len(encoded), width), dtype=np.int64) for name in INPUT_NAMES}
    for row, (ids, types) in enumerate(encoded):
        arrays["input_ids"][row, : len(ids)] = ids
        arrays["attention_mask"][row, : len(ids)] = 1
        arrays["token_type_ids"][row, : len(ids)] = types
    return arrays


def default_threads() -> int:
    """Intra-op threads: the cores this process may use (at most 8; more rarely helps a small encoder)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


class OnnxClassifier:
    """Sigmoid event probabilities from an ONNX graph, batched by token length."""

    def __init__(
        self,
        onnx_model: bytes | str | Path,
        tokenizer_json: str,
        *,
        max_length: int,
        context: str,
        batch_size: int = 32,
        threads: int | None = None,
        windows: bool = False,
    ) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        self.tokenizer = load_tokenizer(tokenizer_json, max_length)
        self.context = context
        self.batch_size = batch_size
        self.max_length = max_length
        self.windows = windows  # sentences are read in event-extractor windows (see event_extractor.encode_windows)
        self._plain = None
        if windows:
            from .event_extractor import plain_tokenizer

            self._plain = plain_tokenizer(tokenizer_json)

    def encode(self, docs: Sequence[Sequence[str]]) -> list[tuple[list[int], list[int]]]:
        """The encoder inputs of every sentence of ``docs``: text pairs, or windows for an event extractor."""
        if self._plain is not None:
            from .event_extractor import encode_windows

            return [w.pair for w in encode_windows(self._plain, docs, self.max_length)]
        return encode_pairs(self.tokenizer, build_pairs(docs, self.context))

    def run(self, encoded: Sequence[tuple[list[int], list[int]]], outputs: Sequence[str]) -> list[list[np.ndarray]]:
        """Per input, the named graph outputs of its row, token axes cut to the input's length."""
        out: list[list[np.ndarray]] = [[] for _ in encoded]
        for batch, rows in self.batches(encoded, outputs):
            for i, row in zip(batch, rows, strict=True):
                out[i] = row
        return out

    def batches(
        self, encoded: Sequence[tuple[list[int], list[int]]], outputs: Sequence[str], ahead: int = 0
    ) -> Iterator[tuple[np.ndarray, list[list[np.ndarray]]]]:
        """Per length batch (see :func:`length_batches`): the indices of its inputs and, per input, the named graph
        outputs of its row, token axes cut to the input's length.

        With ``ahead`` > 0 the graph runs in a background thread, at most ``ahead`` batches in front of the caller
        (:func:`prefetch`): onnxruntime releases the GIL while it runs, so the caller's Python work on one batch
        (event decoding) overlaps the graph's on the next. The batches and their values are the same either way.
        """
        groups = length_batches([len(ids) for ids, _ in encoded], self.batch_size)

        def one(batch: np.ndarray) -> tuple[np.ndarray, list[list[np.ndarray]]]:
            arrays = self.session.run(list(outputs), pad_batch([encoded[i] for i in batch]))
            rows = [
                [a[row, : len(encoded[i][0])] if a.ndim > 2 else a[row] for a in arrays] for row, i in enumerate(batch)
            ]
            return batch, rows

        if ahead > 0 and len(groups) > 1:
            yield from prefetch(map(one, groups), ahead)
        else:
            yield from map(one, groups)

    def predict_proba(self, docs: Sequence[Sequence[str]], only: np.ndarray | None = None) -> np.ndarray:
        """Probabilities ``(total sentences, 5)`` for the sentences of ``docs``, in order.

        With ``only`` (a boolean mask over the sentences) the other rows are not run and stay zero;
        context still comes from the whole document.
        """
        if self._plain is not None:
            everything = self.encode(docs)
            rows = np.arange(len(everything)) if only is None else np.flatnonzero(only)
            encoded = [everything[i] for i in rows]
            total = len(everything)
        else:
            pairs = build_pairs(docs, self.context)
            rows = np.arange(len(pairs)) if only is None else np.flatnonzero(only)
            encoded = encode_pairs(self.tokenizer, [pairs[i] for i in rows])
            total = len(pairs)
        out = np.zeros((total, len(EVENT_LABELS)), dtype=np.float32)
        for batch, batch_outputs in self.batches(encoded, [OUTPUT_NAME]):
            out[rows[batch]] = np.stack([here[0] for here in batch_outputs])
        return out


def prefetch(items: Iterable[T], size: int) -> Iterator[T]:
    """``items``, produced in a background thread at most ``size`` ahead of the consumer.

    An exception raised while producing is raised to the consumer, at the item where it happened. When the
    consumer stops early (``break``, an exception, the generator closed or collected), the producer stops after
    the item it is making and its thread is joined, so no thread outlives the generator.
    """
    if size < 1:
        raise ValueError("prefetch size must be at least 1")
    channel: queue.Queue[tuple[bool, object]] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(entry: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                channel.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))
            return
        put((False, None))

    worker = threading.Thread(target=produce, name="threatevents-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            more, item = channel.get()
            if not more:
                if item is not None:
                    raise cast(BaseException, item)
                return
            yield cast(T, item)
    finally:
        stop.set()
        worker.join()
