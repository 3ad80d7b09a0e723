"""The ``transformer`` model kind: a fine-tuned MiniLM sentence encoder served with onnxruntime.

Training (``fit``) needs the ``train`` extra (torch, transformers, onnx); it ends by exporting the
network to ONNX (int8-quantised unless ``quantize="none"``) and from then on predicts through that graph,
exactly as a saved and reloaded model does. Loading and tagging need only onnxruntime and
tokenizers. Each sentence is read together with its context (the headline and/or neighbouring
sentences, see :func:`~threatevents.models.onnx_runtime.build_pairs`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

import numpy as np

from ..corpus import Document
from ..events import Event, join_sentences
from ..labels import EVENT_LABELS
from .argument_ranker import MAX_ARGUMENT_WORDS, MENTION_OFFSETS, ArgumentRanker, argument_features
from .base import DocLike, EventModel, ModelLoadError, doc_texts, flatten_labels, given_per_sentence
from .blend import CASCADE_CUTS, combine, easy_rows, tune_blend
from .event_extractor import (
    CURRENT,
    EVENT_OUTPUTS,
    EVENT_WEIGHTS_DIR,
    Decoding,
    EventHeadWeights,
    WindowOutputs,
    argument_views,
    encode_windows,
    log_softmax,
    plain_tokenizer,
    ranker_candidates,
    token_span,
    window_events,
)
from .event_tuning import GRID, DevEvents, tune_decoding, tune_event_cascade
from .linear import LinearConfig, LinearModel
from .onnx_runtime import OUTPUT_NAME, OnnxClassifier, encode_documents, load_tokenizer
from .thresholds import dev_weighted_f1
from .transformer_config import (
    CALIBRATION_SENTENCES,
    DEFAULT_BASE,
    DEFAULT_BASE_LICENCE,
    EVENT_CALIBRATION_WINDOWS,
    LINEAR_DIR,
    ONNX_FILE,
    QUANTIZATION_NOTES,
    TOKENIZER_FILE,
    TransformerConfig,
    default_base_model,
)
from .trigger_labels import choose_weight, trigger_scores, with_trigger_labels
from .trigger_lexicon import TriggerLexicon
from .trigger_ranker import CANDIDATE_OFFSETS, FOLDS, TriggerRanker

RankerT = TypeVar("RankerT", bound=TriggerRanker)
#: Batches the graph may run ahead of the event decoding (:meth:`OnnxClassifier.batches`); 0 runs them in line.
EVENTS_PREFETCH = 2

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from .transformer_training import EventClassifier


def calibration_sample(
    encoded: Sequence[tuple[list[int], list[int]]], seed: int, size: int = CALIBRATION_SENTENCES
) -> list[tuple[list[int], list[int]]]:
    """The seeded sample of encoded training inputs that static quantisation calibrates on, in corpus order."""
    rng = np.random.default_rng(seed)
    sample = rng.choice(len(encoded), size=min(size, len(encoded)), replace=False)
    return [encoded[i] for i in sorted(sample)]


class TransformerModel(EventModel):
    """Fine-tuned transformer encoder + linear head over the five events, run by onnxruntime."""

    kind = "transformer"
    config_class = TransformerConfig
    config: TransformerConfig

    def __init__(self, config: TransformerConfig | None = None) -> None:
        super().__init__(config)
        self._runtime: OnnxClassifier | None = None
        self._onnx: bytes = b""
        self._tokenizer_json = ""
        self._plain_tokenizer: Tokenizer | None = None  # see _window_tokenizer
        self.torch_net: EventClassifier | None = None  # the fp32 network after fit (not saved)
        self.fp32_onnx: bytes = b""  # the unquantised export after fit (not saved)
        self.linear: LinearModel | None = None  # the companion for blending and the cascade (see .blend)
        self.event_heads: EventHeadWeights | None = None  # the event extractor's numpy heads (config.events)

    @property
    def has_event_extractor(self) -> bool:  # type: ignore[override]  # class-wide elsewhere; here per trained model
        """Whether this model was trained with event heads (``events=true``); the shipped default was not."""
        return self.event_heads is not None

    @property
    def has_events(self) -> bool:
        """Whether :meth:`predict_events` extracts events (the model has event heads and they are switched on)."""
        return self.event_heads is not None and self.events_enabled

    @property
    def uses_linear(self) -> bool:
        """Whether a linear model is blended in or settles easy sentences (a knob that is non-zero or tuned)."""
        return self.config.linear_weight != 0 or self.config.cascade_below != 0

    # -- training --------------------------------------------------------------------------------
    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        from . import transformer_training as tt

        cfg = self.config
        base = Path(cfg.base_model) if cfg.base_model else default_base_model()
        tokenizer_json = (base / TOKENIZER_FILE).read_text(encoding="utf-8")
        tokenizer = load_tokenizer(tokenizer_json, cfg.max_length)
        if cfg.events and not cfg.events_dir:
            raise ValueError("events=true trains the event extractor from CASIE annotation: give events_dir")
        encoded = self._encode_inputs(tokenizer_json, train)
        dev_encoded = self._encode_inputs(tokenizer_json, dev) if dev else None
        y_dev = flatten_labels(dev) if dev else np.zeros((0, len(EVENT_LABELS)))
        token_targets, trigger_log = self._trigger_targets(train, tokenizer) if cfg.events_dir else (None, {})
        event_targets, event_log = self._event_targets(train, tokenizer_json) if cfg.events else (None, {})
        net, log = tt.train_classifier(
            cfg,
            base,
            encoded,
            flatten_labels(train),
            dev_encoded,
            lambda probs: dev_weighted_f1(y_dev, probs),
            token_targets=token_targets,
            event_targets=event_targets,
            dev_event_score=self._dev_event_score(dev, tokenizer_json) if cfg.events and dev else None,
        )
        self.torch_net = net
        self.event_heads = net.events.numpy_weights() if net.events is not None else None
        self.fp32_onnx = tt.export_onnx(net, max(encoded, key=lambda e: len(e[0])))
        self._set_runtime(self._quantized(encoded), tokenizer_json)
        self.metrics["training"] = (
            dataclasses.asdict(log) | {"base_model": self._base_name(base)} | trigger_log | event_log
        )
        if self.uses_linear:
            self.attach_linear(LinearModel(LinearConfig(seed=cfg.seed)).fit(train), dev)
        if cfg.events:
            self.build_trigger_lexicon(train)
            self.fit_trigger_ranker(train)
            self.fit_argument_ranker(train)
        if cfg.events and dev and None in self._decoding_config().values():  # the values the config gives are kept
            self.tune_event_decoding(dev, keep=[k for k, v in self._decoding_config().items() if v is not None])
        if cfg.events and cfg.trigger_labels is None and dev:
            self.tune_trigger_labels(dev)
        if cfg.events and cfg.event_cascade_below is None and dev:
            self.tune_event_cascade(dev)
        return self

    def build_trigger_lexicon(self, train: Sequence[Document]) -> TriggerLexicon:
        """Count the trigger phrases of ``train``'s CASIE annotation (``config.events_dir``; the sentences found in
        their article) into the event heads' lexicon, which redraws trigger edges (``decoding.trigger_boundaries``)
        and proposes triggers (``decoding.propose``); see :mod:`~threatevents.models.trigger_lexicon`. Returns it."""
        from ..casie import align_triggers

        heads = self._tuning_heads()
        assert self.config.events_dir is not None
        alignment = align_triggers(self.config.events_dir, train)
        texts = [s.text for doc in train for s in doc.sentences]
        found = zip(texts, alignment.triggers, alignment.found, strict=True)
        heads.lexicon = TriggerLexicon.build((text, spans) for text, spans, ok in found if ok)
        self.metrics["trigger_lexicon"] = {"phrases": len(heads.lexicon.triggers)}
        return heads.lexicon

    def fit_trigger_ranker(self, train: Sequence[Document]) -> TriggerRanker | None:
        """Fit the trigger ranker (see :mod:`~threatevents.models.trigger_ranker`) on ``train``: the served network's
        trigger outputs and own label probabilities on every supervised sentence (found in its article, with or without
        events), candidates described with the lexicon of the other training documents (cross-fitted in ``FOLDS``
        folds), each labelled by whether it is a gold trigger (span and type). Used when ``decoding.rank`` > 0. Returns
        it (``None``, and no ranker, when the candidates are all triggers or all not).

        The network's own outputs on ``train`` are used as they are: its trigger head decodes ``train`` no better than
        dev (docs/event-extractor.md gives the figures), so they are not the sharper outputs of a fitted network."""
        from ..casie import align_triggers
        from .event_training import align_events

        heads = self._tuning_heads()
        assert self._runtime is not None and self.config.events_dir is not None
        texts = [[s.text for s in doc.sentences] for doc in train]
        flat = [text for doc in texts for text in doc]
        fold = [i % FOLDS for i, doc in enumerate(texts) for _ in doc]
        alignment = align_triggers(self.config.events_dir, train)
        annotated = list(zip(flat, alignment.triggers, alignment.found, fold, strict=True))
        lexicons = [
            TriggerLexicon.build((text, spans) for text, spans, ok, f in annotated if ok and f != k)
            for k in range(FOLDS)
        ]
        gold = align_events(self.config.events_dir, train).sentences
        windows = encode_windows(self._window_tokenizer(), texts, self.config.max_length)
        rows = [r for r, g in enumerate(gold) if g is not None]
        ran = self._runtime.run([windows[r].pair for r in rows], (OUTPUT_NAME, "trigger_logits"))
        examples: list[dict[str, float]] = []
        labels: list[bool] = []
        for r, (network, logits) in zip(rows, ran, strict=True):
            truth = {(a, b, kind) for a, b, kind, _ in gold[r].triggers}  # type: ignore[union-attr]
            for candidate, _, example in ranker_candidates(
                windows[r], log_softmax(logits), flat[r], network, lexicons[fold[r]]
            ):
                examples.append(example)
                labels.append(candidate in truth)
        self.metrics["trigger_ranker"] = {"candidates": len(labels), "triggers": sum(labels)}
        heads.ranker = _fitted(TriggerRanker, examples, labels, self.metrics["trigger_ranker"])
        return heads.ranker

    def fit_argument_ranker(self, train: Sequence[Document]) -> ArgumentRanker | None:
        """Fit the argument ranker (see :mod:`~threatevents.models.argument_ranker`) on ``train``: the served
        network's event outputs on every sentence with gold triggers, each gold trigger's candidates labelled by
        whether the candidate, with the role paired with it, is one of its gold arguments. Used when
        ``decoding.arguments_rank`` > 0. Returns it (``None``, and no ranker, when the candidates are all right or all
        wrong)."""
        from .event_training import align_events

        heads = self._tuning_heads()
        assert self._runtime is not None and self.config.events_dir is not None
        texts = [[s.text for s in doc.sentences] for doc in train]
        gold = align_events(self.config.events_dir, train).sentences
        windows = encode_windows(self._window_tokenizer(), texts, self.config.max_length)
        around = [
            [(doc[j], 0) if 0 <= j < len(doc) else None for j in (i - 1, i, i + 1)]
            for doc in texts
            for i in range(len(doc))
        ]
        rows = [r for r, g in enumerate(gold) if g is not None and g.triggers]
        ran = self._runtime.run([windows[r].pair for r in rows], EVENT_OUTPUTS)
        examples: list[dict[str, float]] = []
        labels: list[bool] = []
        for r, outputs in zip(rows, ran, strict=True):
            sentence = gold[r]
            assert sentence is not None
            triggers, truths = [], []
            for (start, end, kind, _), arguments in zip(sentence.triggers, sentence.arguments, strict=True):
                tokens = token_span(windows[r], CURRENT, start, end)
                if tokens is not None:
                    triggers.append((*tokens, kind))
                    truths.append(set(arguments))
            views, role_lp = argument_views(windows[r], WindowOutputs(*outputs), heads, around[r], triggers)
            for t, (trigger, truth) in enumerate(zip(triggers, truths, strict=True)):
                for c, view in enumerate(views):
                    role, example = argument_features(view, trigger, role_lp[t, c])
                    examples.append(example)
                    labels.append((*view.candidate.place, role) in truth)
        self.metrics["argument_ranker"] = {"candidates": len(labels), "arguments": sum(labels)}
        heads.argument_ranker = _fitted(ArgumentRanker, examples, labels, self.metrics["argument_ranker"])
        return heads.argument_ranker

    def tune_event_cascade(self, dev: Sequence[Document]) -> float:
        """Choose ``config.event_cascade_below`` on ``dev`` (see
        :func:`~threatevents.models.event_tuning.tune_event_cascade`): the events pass skips the encoder for the
        sentences the linear companion finds easiest, as the sentence labels do below ``cascade_below`` (so the
        cut-offs tried stop there, and the labels do not change); 0 without a linear companion or while found
        triggers lift the labels (``trigger_labels`` > 0). Returns it."""
        heads = self._tuning_heads()
        label_cut = float(self.config.cascade_below or 0.0)
        if self.linear is None or label_cut <= 0 or self._trigger_weight > 0:  # labels would lose trigger evidence
            self.config.event_cascade_below = 0.0
            return 0.0
        decoding = self.decoding
        dev_events, outputs, network = self._served_dev_events(dev)
        labels = self._sentence_proba(dev)
        cuts = [c for c in CASCADE_CUTS if c <= label_cut]
        choice = tune_event_cascade(
            self.linear.predict_proba(dev),
            lambda skip: dev_events.score(outputs, heads, decoding, skip, labels, network),
            cuts,
        )
        self.config.event_cascade_below = choice.cut
        self.metrics["event_cascade"] = choice.to_dict()
        return choice.cut

    def tune_trigger_labels(self, dev: Sequence[Document]) -> float:
        """Choose ``config.trigger_labels`` on ``dev`` (see :mod:`~threatevents.models.trigger_labels`); returns it."""
        self.config.trigger_labels = 0.0
        probs, events = self._events_pass(dev, None, with_probs=True)
        choice = choose_weight(flatten_labels(dev), probs, trigger_scores(events))
        self.config.trigger_labels = choice.weight
        self.metrics["trigger_labels"] = choice.to_dict()
        return choice.weight

    def requantize(self, fp32_onnx: bytes, train: Sequence[Document]) -> None:
        """Serve ``fp32_onnx`` (this model's unquantised export) quantised as the config now says.

        Calibration uses the same seeded sample of ``train`` inputs as :meth:`fit`, so the result is the
        graph ``fit`` would have produced with this ``quantize`` setting. The trigger and argument rankers, fitted
        on the replaced graph's outputs, are fitted again on the new graph's (this needs ``config.events_dir``).
        Re-tune the decoding and thresholds afterwards.
        """
        if self._runtime is None:
            raise RuntimeError("fit or load the transformer before re-quantising it")
        heads = self.event_heads
        refit = heads is not None and (heads.ranker is not None or heads.argument_ranker is not None)
        if refit and self.config.events_dir is None:
            raise ValueError("set config.events_dir: the rankers are fitted again on the re-quantised graph's outputs")
        encoded = self._encode_inputs(self._tokenizer_json, train)
        self.fp32_onnx = fp32_onnx
        self._set_runtime(self._quantized(encoded), self._tokenizer_json)
        if heads is not None and heads.ranker is not None:
            self.fit_trigger_ranker(train)
        if heads is not None and heads.argument_ranker is not None:
            self.fit_argument_ranker(train)

    def _quantized(self, encoded: Sequence[tuple[list[int], list[int]]]) -> bytes:
        """The fp32 export quantised as configured; static calibration uses a seeded sample of training inputs."""
        from .transformer_training import quantize_onnx

        if self.config.quantize == "none":
            return self.fp32_onnx
        if self.config.quantize in ("dynamic", "dynamic-reduced"):
            return quantize_onnx(self.fp32_onnx, reduce_range=self.config.quantize == "dynamic-reduced")
        size = EVENT_CALIBRATION_WINDOWS if self.config.events else CALIBRATION_SENTENCES
        return quantize_onnx(self.fp32_onnx, calibration=calibration_sample(encoded, self.config.seed, size))

    def attach_linear(self, linear: LinearModel, dev: Sequence[Document] | None) -> None:
        """Use ``linear`` beside the transformer; a ``None`` weight or cut-off in the config is tuned on ``dev``.

        The chosen values replace ``None`` in the config (so the saved config says what runs), and the
        dev scores behind the choice go to ``metrics["blend"]``. Re-tune thresholds afterwards.
        """
        cfg = self.config
        if self._runtime is None:
            raise RuntimeError("fit or load the transformer before attaching a linear model")
        if (cfg.linear_weight is None or cfg.cascade_below is None) and not dev:
            raise ValueError("tuning linear_weight or cascade_below needs dev documents")
        self.linear = linear
        if dev:
            y_dev = flatten_labels(dev)
            transformer = self.transformer_proba(dev)
            choice = tune_blend(
                transformer,
                linear.predict_proba(dev),
                lambda probs: dev_weighted_f1(y_dev, probs),
                weight=cfg.linear_weight,
                cut=cfg.cascade_below,
            )
            cfg.linear_weight, cfg.cascade_below = choice.weight, choice.cut
            self.metrics["blend"] = choice.to_dict()

    def _encode_inputs(self, tokenizer_json: str, docs: Sequence[Document]) -> list[tuple[list[int], list[int]]]:
        """Encoder inputs of every sentence: event-extractor windows (``config.events``) or context pairs."""
        cfg = self.config
        texts = [d.texts for d in docs]
        if cfg.events:
            return [w.pair for w in encode_windows(plain_tokenizer(tokenizer_json), texts, cfg.max_length)]
        return encode_documents(load_tokenizer(tokenizer_json, cfg.max_length), texts, cfg.context)

    def _event_targets(self, train: Sequence[Document], tokenizer_json: str) -> tuple[list[Any], dict[str, Any]]:
        """Window targets of every training sentence from the CASIE annotation (``None`` where unsupervised)."""
        from .event_training import align_events, window_targets

        assert self.config.events_dir is not None
        alignment = align_events(self.config.events_dir, train)
        gold_sentences = list(alignment.sentences)
        reviewed = 0
        if self.event_supervision:  # analyst-reviewed events override the annotation of the same sentence
            from ..corpus import normalise
            from .event_training import sentence_targets

            texts = [s.text for doc in train for s in doc.sentences]
            for i, text in enumerate(texts):
                events = self.event_supervision.get(normalise(text))
                if events is not None:
                    gold_sentences[i] = sentence_targets(events)
                    reviewed += 1
        windows = encode_windows(plain_tokenizer(tokenizer_json), [d.texts for d in train], self.config.max_length)
        targets = [
            window_targets(window, gold) if gold is not None else None
            for window, gold in zip(windows, gold_sentences, strict=True)
        ]
        return targets, alignment.to_log() | ({"event_reviewed_sentences": reviewed} if reviewed else {})

    def _dev_event_score(self, dev: Sequence[Document], tokenizer_json: str) -> Callable[[EventClassifier], float]:
        """Mean of dev ``trigger_cls`` and ``argument_attached_cls`` F1 of a torch network's events (model
        selection), over the dev sentences that have gold events (placed in their article)."""
        from .transformer_training import predict_torch_events

        assert self.config.events_dir is not None
        dev_events = DevEvents(dev, self.config.events_dir, tokenizer_json, self.config.max_length)

        def score(net: EventClassifier) -> float:
            assert net.events is not None
            return dev_events.score(predict_torch_events(net, dev_events.pairs), net.events.numpy_weights())

        return score

    def _decoding_config(self) -> dict[str, float | bool | None]:
        """Each :class:`Decoding` field's value in the config (``decode_<field>``; ``None`` while not chosen)."""
        return {f.name: getattr(self.config, f"decode_{f.name}") for f in dataclasses.fields(Decoding)}

    @property
    def decoding(self) -> Decoding:
        """The event extractor's decoding choices (offsets 0 and joins off where not chosen)."""
        given = self._decoding_config().items()
        chosen = {k: v if isinstance(v, bool) else float(v) for k, v in given if v is not None}
        return Decoding(**cast(dict[str, Any], chosen))

    def _tuning_heads(self) -> EventHeadWeights:
        """The event heads, for a choice made on dev (which needs them, the served graph and ``events_dir``)."""
        if self.event_heads is None or self._runtime is None or not self.config.events_dir:
            raise ValueError("tuning the event extractor needs a trained event extractor and its events_dir")
        return self.event_heads

    def _served_dev_events(self, dev: Sequence[Document]) -> tuple[DevEvents, list[list[np.ndarray]], np.ndarray]:
        """``dev``'s windows and gold events, the served (onnxruntime) network's event outputs on them, and its own
        sentence-label probabilities (for the trigger ranker)."""
        self._tuning_heads()
        assert self._runtime is not None and self.config.events_dir is not None
        dev_events = DevEvents(dev, self.config.events_dir, self._tokenizer_json, self.config.max_length)
        ran = self._runtime.run(dev_events.pairs, (OUTPUT_NAME, *EVENT_OUTPUTS))
        network = np.stack([o[0] for o in ran]) if ran else np.zeros((0, len(EVENT_LABELS)))
        return dev_events, [o[1:] for o in ran], network

    def tune_event_decoding(self, dev: Sequence[Document], keep: Collection[str] = ()) -> Decoding:
        """Choose the decoding (offsets and joins) on ``dev`` against ``config.events_dir`` (see
        :func:`~threatevents.models.event_tuning.tune_decoding`), with the served (onnxruntime) network; the
        :class:`Decoding` fields named in ``keep`` stay at their current values."""
        heads, current = self._tuning_heads(), self.decoding
        dev_events, outputs, network = self._served_dev_events(dev)
        grid = {name: (getattr(current, name),) if name in keep else values for name, values in GRID.items()}
        start = Decoding(**{name: getattr(current, name) for name in keep})
        labels = self._sentence_proba(dev)  # for the lexicon's proposals
        choice = tune_decoding(
            lambda decoding: dev_events.score(outputs, heads, decoding, None, labels, network), grid, start
        )
        for name, value in dataclasses.asdict(choice.decoding).items():
            setattr(self.config, f"decode_{name}", value)
        self.metrics["decoding"] = choice.to_dict()
        return choice.decoding

    def _trigger_targets(
        self, train: Sequence[Document], tokenizer: Tokenizer
    ) -> tuple[list[np.ndarray | None], dict[str, Any]]:
        """Token trigger targets from the CASIE annotation in ``config.events_dir`` (``None`` where untrusted)."""
        from ..casie import align_triggers
        from .transformer_training import trigger_targets

        assert self.config.events_dir is not None
        alignment = align_triggers(self.config.events_dir, train)
        usable = alignment.agreeing(train)
        texts = [s.text for doc in train for s in doc.sentences]
        encodings = tokenizer.encode_batch(texts)
        targets: list[np.ndarray | None] = [
            trigger_targets(enc.offsets, triggers) if ok else None
            for enc, triggers, ok in zip(encodings, alignment.triggers, usable, strict=True)
        ]
        log = {
            "trigger_sentences": sum(usable),
            "trigger_sentences_share": round(sum(usable) / max(len(usable), 1), 4),
            "trigger_weight": self.config.trigger_weight,
        }
        return targets, log

    # -- inference -------------------------------------------------------------------------------
    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        if self.has_events and self._trigger_weight > 0:  # the labels need the events
            return self._events_pass(docs, None, with_probs=True)[0]
        return self._sentence_proba(docs)

    def _sentence_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        """The sentence head's probabilities (with the linear companion), without trigger evidence."""
        if self.linear is None:
            return self.transformer_proba(docs)
        weight, cut = float(self.config.linear_weight or 0.0), float(self.config.cascade_below or 0.0)
        linear = self.linear.predict_proba(docs)
        return combine(self.transformer_proba(docs, only=~easy_rows(linear, cut)), linear, weight, cut)

    def transformer_proba(self, docs: Sequence[DocLike], only: np.ndarray | None = None) -> np.ndarray:
        """The transformer's own probabilities, without the linear companion (rows outside ``only`` stay 0)."""
        if self._runtime is None:
            raise RuntimeError("the transformer model is not trained or loaded")
        return self._runtime.predict_proba([doc_texts(doc) for doc in docs], only=only)

    def predict_events(self, docs: Sequence[DocLike]) -> list[list[Event]]:
        """Events per document, offsets into its sentences joined by :func:`threatevents.events.join_sentences`
        (an argument in a neighbouring sentence keeps those offsets); no events without event heads."""
        return [[e for sentence in doc for e in sentence] for doc in self.predict_sentence_events(docs)]

    def predict_sentence_events(
        self, docs: Sequence[DocLike], starts: Sequence[Sequence[int]] | None = None
    ) -> list[list[list[Event]]]:
        """Per document, per sentence, the events whose trigger is in that sentence.

        Offsets are in the frame where sentence ``j`` of document ``d`` starts at ``starts[d][j]`` (by
        default the sentences joined by :func:`~threatevents.events.join_sentences`); so with the sentences'
        offsets in the document text, every span (an argument in a neighbouring sentence too) is in document
        offsets. Without event heads, or with events switched off (``events_enabled``), every list is empty
        and nothing extra runs.
        """
        return self._events_pass(docs, starts, with_probs=False)[1]

    def predict_arguments(
        self,
        docs: Sequence[DocLike],
        triggers: Sequence[Sequence[Event]],
        starts: Sequence[Sequence[int]] | None = None,
    ) -> list[list[Event]]:
        """See :meth:`EventModel.predict_arguments`. No trigger is looked for, and only the sentences with a given
        trigger are run."""
        given = given_per_sentence(docs, triggers, starts)
        per_sentence = self._events_pass(docs, starts, False, given)[1]
        return [[e for sentence in doc for e in sentence] for doc in per_sentence]

    def predict_proba_and_events(
        self, docs: Sequence[DocLike], starts: Sequence[Sequence[int]] | None = None
    ) -> tuple[np.ndarray, list[list[list[Event]]]]:
        """:meth:`predict_proba` and :meth:`predict_sentence_events` from one encoder pass over the sentences.

        Without event heads (or with events switched off) this is :meth:`predict_proba` and empty lists.
        """
        return self._events_pass(docs, starts, with_probs=True)

    def _events_pass(
        self,
        docs: Sequence[DocLike],
        starts: Sequence[Sequence[int]] | None,
        with_probs: bool,
        given: Sequence[Sequence[Sequence[tuple[int, int, int]]]] | None = None,
    ) -> tuple[np.ndarray, list[list[list[Event]]]]:
        """Sentence probabilities (when ``with_probs``) and events per document and sentence; with ``given``
        triggers per document and sentence (sentence characters, event label index), events for those only
        (:meth:`predict_arguments`)."""
        texts = [doc_texts(doc) for doc in docs]
        starts = [join_sentences(doc)[1] for doc in texts] if starts is None else starts
        if [len(s) for s in starts] != [len(t) for t in texts]:
            raise ValueError("starts must give one offset per sentence of each document")
        if not self.has_events or self._runtime is None:
            probs = self._sentence_proba(docs) if with_probs else np.zeros((0, len(EVENT_LABELS)))
            return probs, [[[] for _ in doc] for doc in texts]
        assert self.event_heads is not None
        windows = encode_windows(self._window_tokenizer(), texts, self.config.max_length)
        decoding = self.decoding
        # proposals and the ranker read the labels; given triggers need neither
        need_probs = with_probs or (given is None and (decoding.propose > 0 or decoding.rank > 0))
        label_cut, event_cut = self._cascade_cuts()
        wanted = need_probs or (event_cut and given is None)
        linear = self.linear.predict_proba(docs) if self.linear is not None and wanted else None
        if given is not None:  # only sentences with given triggers are run
            skip = np.array([not sentence for doc in given for sentence in doc], dtype=bool)
        else:
            skip = easy_rows(linear, event_cut) if linear is not None else np.zeros(len(windows), dtype=bool)
        run = np.flatnonzero(~skip)
        names = (OUTPUT_NAME, *EVENT_OUTPUTS) if need_probs else EVENT_OUTPUTS
        weight = float(self.config.linear_weight or 0.0)
        # the network's own probabilities (for the trigger ranker); skipped rows stay 0, and combine gives them
        # the linear probabilities, as they are easy for the labels too
        network = np.zeros((len(windows) if need_probs else 0, len(EVENT_LABELS)))
        place = [(d, i) for d, doc in enumerate(texts) for i in range(len(doc))]
        result: list[list[list[Event]]] = [[[] for _ in doc] for doc in texts]  # skipped rows find none
        first = 1 if need_probs else 0
        # each batch is decoded while the graph runs the next (the decoding is per row, so its order is free)
        for batch, batch_outputs in self._runtime.batches([windows[r].pair for r in run], names, ahead=EVENTS_PREFETCH):
            rows = run[batch]
            labels: np.ndarray | None = None
            if need_probs:
                network[rows] = np.stack([here[0] for here in batch_outputs])
                labels = network[rows] if linear is None else combine(network[rows], linear[rows], weight, label_cut)
            for k, (r, here) in enumerate(zip(rows, batch_outputs, strict=True)):
                d, i = place[r]
                doc, offsets = texts[d], starts[d]
                around = [(doc[j], int(offsets[j])) if 0 <= j < len(doc) else None for j in (i - 1, i, i + 1)]
                mine = given[d][i] if given is not None else None
                outputs = WindowOutputs(*here[first:])
                sentence_labels, own = (labels[k], network[r]) if labels is not None else (None, None)
                result[d][i] = window_events(
                    windows[r], outputs, self.event_heads, around, decoding, sentence_labels, own, mine
                )
        probs = network if linear is None or not need_probs else combine(network, linear, weight, label_cut)
        if not with_probs:
            return np.zeros((0, len(EVENT_LABELS))), result
        if self._trigger_weight > 0:
            probs = with_trigger_labels(probs, trigger_scores(result), self._trigger_weight)
        return probs, result

    def _cascade_cuts(self) -> tuple[float, float]:
        """The sentence labels' cascade cut-off and the events pass's (never above it: a sentence the events pass
        skips must take the linear labels; 0 while found triggers lift the labels, which skipped sentences would
        lose); both 0 without a linear companion."""
        if self.linear is None:
            return 0.0, 0.0
        label_cut = float(self.config.cascade_below or 0.0)
        if self._trigger_weight > 0:
            return label_cut, 0.0
        return label_cut, min(float(self.config.event_cascade_below or 0.0), label_cut)

    @property
    def _trigger_weight(self) -> float:
        """``config.trigger_labels`` as a number (0 while not chosen: the sentence head alone)."""
        return float(self.config.trigger_labels or 0.0)

    def _window_tokenizer(self) -> Tokenizer:
        """The tokenizer that builds event windows, made once per loaded graph (not once per call: ~30 ms)."""
        if self._plain_tokenizer is None:
            self._plain_tokenizer = plain_tokenizer(self._tokenizer_json)
        return self._plain_tokenizer

    def _set_runtime(self, onnx_model: bytes, tokenizer_json: str) -> None:
        self._onnx, self._tokenizer_json = onnx_model, tokenizer_json
        self._plain_tokenizer = None
        self._runtime = OnnxClassifier(
            onnx_model,
            tokenizer_json,
            max_length=self.config.max_length,
            context=self.config.context,
            batch_size=self.config.batch_size,
            windows=self.config.events,
            threads=self.threads,
        )

    # -- persistence -----------------------------------------------------------------------------
    def _save_weights(self, path: Path) -> None:
        if self._runtime is None:
            raise RuntimeError("cannot save an untrained transformer model")
        (path / ONNX_FILE).write_bytes(self._onnx)
        (path / TOKENIZER_FILE).write_text(self._tokenizer_json, encoding="utf-8")
        if self.linear is not None:
            self.linear.save(path / LINEAR_DIR)
        if self.event_heads is not None:
            self.event_heads.save(path / EVENT_WEIGHTS_DIR)

    def _load_weights(self, path: Path) -> None:
        try:
            onnx_model = (path / ONNX_FILE).read_bytes()
            tokenizer_json = (path / TOKENIZER_FILE).read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelLoadError(f"cannot read transformer weights in {path}: {exc}") from None
        self._set_runtime(onnx_model, tokenizer_json)
        if self.config.events:
            try:
                self.event_heads = EventHeadWeights.load(path / EVENT_WEIGHTS_DIR)
            except (OSError, ValueError) as exc:
                raise ModelLoadError(
                    f"{path}: the config has event heads but {EVENT_WEIGHTS_DIR}/ is unusable: {exc}"
                ) from None
        if self.uses_linear:
            if not (path / LINEAR_DIR).is_dir():
                raise ModelLoadError(f"{path}: the config blends in a linear model but {LINEAR_DIR}/ is missing")
            self.linear = LinearModel.load(path / LINEAR_DIR)

    # -- model card ------------------------------------------------------------------------------
    @staticmethod
    def _base_name(base: Path) -> str:
        try:
            return str(json.loads((base / "config.json").read_text(encoding="utf-8")).get("_name_or_path") or base.name)
        except (OSError, json.JSONDecodeError):
            return base.name

    def _quantization_note(self) -> str:
        note = QUANTIZATION_NOTES[self.config.quantize]
        if self.config.events and self.config.quantize == "static":
            inputs = f"{CALIBRATION_SENTENCES} training inputs"
            note = note.replace(inputs, f"{EVENT_CALIBRATION_WINDOWS} training windows")
        return note

    def card_details(self) -> str:
        cfg = self.config
        training: dict[str, Any] = self.metrics.get("training", {})
        speed: dict[str, Any] = self.metrics.get("speed", {})
        base = DEFAULT_BASE if cfg.base_model is None else training.get("base_model", cfg.base_model)
        licence = DEFAULT_BASE_LICENCE if cfg.base_model is None else "see the base model's own card"
        lines = [
            "## Transformer",
            "",
            f"- Base encoder: `{base}` (licence {licence}), fine-tuned end to end with a linear head "
            "over mean-pooled sentence tokens"
            + (", plus the highest per-token trigger score of each label." if cfg.pooling == "mean+max" else "."),
            f"- Context read with each sentence: `{cfg.context}`"
            + (" (each sentence alone)" if cfg.context == "none" else " (as the second segment of a text pair)")
            + f"; at most {cfg.max_length} tokens.",
            f"- Weights: ONNX, {self._quantization_note()}; inference needs onnxruntime and tokenizers only.",
        ]
        if training:
            lines.append(
                f"- Training: {training.get('epochs_run')} epoch(s), best on dev at epoch "
                f"{training.get('best_epoch')}, {training.get('seconds')} s "
                f"({training.get('train_sentences_per_s')} sentences/s)."
            )
        quantisation: dict[str, Any] = self.metrics.get("quantisation", {})
        if quantisation:
            lines.append(
                f"- Quantisation cost on test (weighted F1, transformer alone): fp32 ONNX "
                f"{quantisation['fp32_onnx_test']['weighted_f1']:.4f}, int8 "
                f"{quantisation['int8_test']['weighted_f1']:.4f}."
            )
        for run, scores in self.metrics.get("context_dev", {}).items():
            lines.append(
                f"- Context `{scores['context']}` (run `{run}`, max {scores['max_length']} tokens) on dev: weighted F1 "
                f"{scores['fp32']['weighted_f1']:.4f} fp32 / {scores['int8']['weighted_f1']:.4f} int8, event macro F1 "
                f"{scores['fp32']['events_macro_f1']:.4f} / {scores['int8']['events_macro_f1']:.4f}."
            )
        blend: dict[str, Any] = self.metrics.get("blend", {})
        if self.linear is not None:
            lines.append(
                f"- Linear companion (`{LINEAR_DIR}/`, TF-IDF + logistic regression trained on the same data): "
                f"probabilities blended as {cfg.linear_weight:g} x linear + {1 - float(cfg.linear_weight or 0):g} x "
                f"transformer; sentences whose highest linear event probability is below {cfg.cascade_below:g} "
                "skip the transformer and keep the linear probabilities"
                + (f" ({blend['dev_skipped']:.0%} of dev sentences)." if "dev_skipped" in blend else ".")
            )
        if training.get("trigger_sentences"):
            lines.append(
                f"- Trigger loss: {training['trigger_sentences']} training sentences "
                f"({training['trigger_sentences_share']:.0%}) also taught which tokens are CASIE event triggers "
                f"(weight {training['trigger_weight']:g}"
                + (
                    "; the token head scores triggers in the graph)."
                    if cfg.pooling == "mean+max"
                    else "; training only)."
                )
            )
        if self.event_heads is not None:
            d, heads = self.decoding, self.event_heads
            ranked = d.rank > 0 and heads.ranker is not None and heads.lexicon is not None
            if ranked:
                triggers = (
                    f"triggers chosen by the trigger ranker at threshold {d.rank:g} (a logistic regression over the "
                    f"heads' tag probabilities, the training annotation's trigger phrases and the neighbouring words; "
                    f"candidates: the heads' spans at offsets "
                    f"{', '.join(f'{o:g}' for o in CANDIDATE_OFFSETS)}, joined, widened and redrawn, and the phrases)"
                )
            else:
                triggers = (
                    f"trigger offset {d.trigger:g}; touching trigger spans joined: "
                    f"{'yes' if d.join_triggers else 'no'}; trigger edges "
                    + (
                        f"redrawn by the training annotation's trigger phrases (margin {d.boundary_margin:g})"
                        if d.trigger_boundaries and heads.lexicon is not None
                        else "as decoded"
                    )
                    + (
                        f"; triggers proposed by those phrases at threshold {d.propose:g}"
                        if d.propose > 0 and heads.lexicon is not None
                        else ""
                    )
                )
            if d.arguments_rank > 0 and heads.argument_ranker is not None:
                arguments = (
                    f"arguments chosen per trigger by the argument ranker at threshold {d.arguments_rank:g} (a "
                    "logistic regression over the role scorer's and mention head's probabilities and the words at the "
                    f"edges; candidates: every run of up to {MAX_ARGUMENT_WORDS} words inside the mentions decoded at "
                    f"offsets {', '.join(f'{o:g}' for o in MENTION_OFFSETS)})"
                )
            else:
                arguments = (
                    f"mention offset {d.mention:g}, touching mention spans joined: "
                    f"{'yes' if d.join_mentions else 'no'}; argument offset {d.argument:g}"
                )
            lines.append(
                f"- Event extractor: trigger and argument-mention BIO heads (constrained Viterbi), pairwise role "
                f"scorer and realis head on the same encoder pass; {triggers}; {arguments}"
                + (" (chosen on dev)." if "decoding" in self.metrics else ".")
            )
            event_cut = self._cascade_cuts()[1]
            if event_cut:
                cascade: dict[str, Any] = self.metrics.get("event_cascade", {})
                skipped = f", {cascade['dev_skipped']:.0%} of dev sentences" if "dev_skipped" in cascade else ""
                lines.append(
                    f"- Events cascade: sentences whose highest linear probability is below {event_cut:g} skip the "
                    f"encoder in the events pass too{skipped}, and find no events"
                    + (" (chosen on dev)." if cascade else ".")
                )
            cost: dict[str, Any] = self.metrics.get("quantisation_events", {})
            if "fp32_onnx_test" in cost:
                pair = {
                    name: f"{cost[key]['trigger_cls_f1']:.4f} / {cost[key]['argument_attached_cls_f1']:.4f}"
                    for name, key in (("fp32", "fp32_onnx_test"), ("int8", "int8_test"))
                }
                lines.append(
                    "- Quantisation cost on test (trigger_cls / argument_attached_cls F1): "
                    f"fp32 ONNX {pair['fp32']}, int8 {pair['int8']}."
                )
            weight = self._trigger_weight
            chosen: dict[str, Any] = self.metrics.get("trigger_labels", {})
            on_dev = f"chosen on dev among {', '.join(chosen['dev_weighted_f1'])}" if chosen else ""
            lines.append(
                f"- Sentence labels from events: a label's probability is raised to at least {weight:g} x the score "
                f"of a trigger of that type found in the sentence" + (f" ({on_dev})." if on_dev else ".")
                if weight > 0
                else "- Sentence labels from events: not used (weight 0"
                + (f", {on_dev}" if on_dev else "")
                + "); the sentence head alone."
            )
        for key, value in speed.items():
            lines.append(f"- Speed, {key.replace('_', ' ')}: {value}")
        return "\n".join(lines)


def _fitted(
    kind: type[RankerT], examples: Sequence[dict[str, float]], labels: Sequence[bool], metrics: dict[str, Any]
) -> RankerT | None:
    """A ranker of ``kind`` fitted on ``examples`` and ``labels``, its weight count added to ``metrics``; ``None``
    when the candidates are all right or all wrong (e.g. a tiny corpus: nothing to learn, and its threshold in the
    decoding has no effect)."""
    if len(set(labels)) < 2:
        metrics["features"] = 0
        return None
    ranker = kind.fit(examples, labels)
    metrics["features"] = len(ranker.weights)
    return ranker
