"""Fine-tune a sentence encoder for the five event labels with torch, and export it to ONNX.

Only :mod:`threatevents.models.transformer` imports this module, inside ``fit``: torch and
transformers are needed to train, never to tag. Training is repeatable for a fixed seed: seeded
torch and numpy generators, deterministic kernels, and a fixed single-threaded batch order.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel

from ..labels import EVENT_LABELS
from .event_extractor import EVENT_OUTPUTS
from .event_training import EventHeads, WindowTargets, event_loss
from .onnx_runtime import INPUT_NAMES, OUTPUT_NAME, default_threads, length_batches, pad_batch
from .transformer_config import POOLINGS, TransformerConfig

Encoded = Sequence[tuple[list[int], list[int]]]
HEAD_FILE = "head.safetensors"


class EventClassifier(nn.Module):
    """Encoder + mean pooling over the sentence's own tokens (segment A) + a linear layer.

    With ``token_head`` a second linear layer scores each token as an event trigger. Under
    ``pooling="mean"`` it only adds a training signal (the trigger loss) and is left out of the
    exported graph; under ``"mean+max"`` each label's sentence logit also adds the highest token
    logit of the sentence, so a single trigger word can carry the sentence.

    With ``event_dim`` the network also carries the event extractor's heads (:class:`EventHeads`) and
    its forward returns, after the probabilities, their per-token outputs (``EVENT_OUTPUTS``).
    """

    def __init__(
        self,
        encoder: PreTrainedModel,
        dropout: float = 0.1,
        token_head: bool = False,
        pooling: str = "mean",
        event_dim: int | None = None,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        self.encoder: PreTrainedModel = encoder
        self.dropout = nn.Dropout(dropout)
        self.pooling = pooling
        self.head = nn.Linear(encoder.config.hidden_size, len(EVENT_LABELS))
        wants_tokens = token_head or pooling == "mean+max"
        self.token_head = nn.Linear(encoder.config.hidden_size, len(EVENT_LABELS)) if wants_tokens else None
        self.events = EventHeads(encoder.config.hidden_size, event_dim) if event_dim else None

    def hidden(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        out: torch.Tensor = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return out

    def pooled_logits(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        mask = (attention_mask * (token_type_ids == 0)).unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        logits = self.head(self.dropout(pooled))
        if self.pooling == "mean+max":
            assert self.token_head is not None
            tokens = self.token_head(self.dropout(hidden)) + (mask - 1.0) * 1e4  # padding and context never win
            logits = logits + tokens.max(dim=1).values
        return logits

    def logits(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.hidden(input_ids, attention_mask, token_type_ids)
        return self.pooled_logits(hidden, attention_mask, token_type_ids)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor | tuple[torch.Tensor, ...]:
        hidden = self.hidden(input_ids, attention_mask, token_type_ids)
        probs = torch.sigmoid(self.pooled_logits(hidden, attention_mask, token_type_ids))
        if self.events is None:
            return probs
        return (probs, *self.events(hidden))


@dataclass
class TrainingLog:
    """What happened during :func:`train_classifier`, stored in the model's metrics."""

    epochs_run: int = 0
    best_epoch: int = 0
    dev_scores: list[float] = field(default_factory=list)
    dev_event_scores: list[float] = field(default_factory=list)  # the event part of each dev score
    seconds: float = 0.0
    train_sentences_per_s: float = 0.0


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(default_threads())


def load_encoder(base_model: str | Path) -> PreTrainedModel:
    from transformers import AutoModel

    encoder: PreTrainedModel = AutoModel.from_pretrained(str(base_model))
    return encoder


def _tensors(encoded: Encoded) -> dict[str, torch.Tensor]:
    return {name: torch.from_numpy(array) for name, array in pad_batch(encoded).items()}


def _train_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within chunks of 50 batches, shuffle batches."""
    order = rng.permutation(len(lengths))
    chunk = batch_size * 50
    batches: list[np.ndarray] = []
    for start in range(0, len(order), chunk):
        part = order[start : start + chunk]
        batches += [part[b] for b in length_batches([lengths[i] for i in part], batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def trigger_targets(offsets: Sequence[tuple[int, int]], triggers: Sequence[tuple[int, int, str]]) -> np.ndarray:
    """``(tokens, 5)`` 0/1 targets: a token is a trigger of a label when its characters overlap one.

    ``offsets`` are the token character spans of the sentence encoded alone (special tokens have
    empty spans and are never triggers).
    """
    out = np.zeros((len(offsets), len(EVENT_LABELS)), dtype=np.float32)
    column = {label: j for j, label in enumerate(EVENT_LABELS)}
    for row, (start, end) in enumerate(offsets):
        if end <= start:
            continue
        for t_start, t_end, label in triggers:
            if start < t_end and t_start < end:
                out[row, column[label]] = 1.0
    return out


def _trigger_loss(
    net: EventClassifier,
    hidden: torch.Tensor,
    targets: Sequence[np.ndarray | None],
    inputs: dict[str, torch.Tensor],
) -> torch.Tensor:
    """Mean BCE of the token head over the sentence tokens of rows that have targets.

    Row ``r``'s sentence tokens sit at positions ``1 .. n-2`` where ``n`` counts its segment-A
    tokens (``[CLS]`` first, ``[SEP]`` last); they are the same tokens as positions ``1 .. n-2`` of
    the sentence encoded alone, whose targets are given.
    """
    assert net.token_head is not None
    dense = torch.zeros(hidden.shape[0], hidden.shape[1], len(EVENT_LABELS))
    mask = torch.zeros(hidden.shape[0], hidden.shape[1], 1)
    segment_a = ((inputs["token_type_ids"] == 0) & (inputs["attention_mask"] == 1)).sum(dim=1)
    for row, target in enumerate(targets):
        if target is None:
            continue
        n = min(int(segment_a[row]) - 1, target.shape[0])
        if n > 1:
            dense[row, 1:n] = torch.from_numpy(target[1:n])
            mask[row, 1:n] = 1.0
    if mask.sum() == 0:
        return hidden.new_zeros(())
    token_logits = net.token_head(net.dropout(hidden))
    losses = nn.functional.binary_cross_entropy_with_logits(token_logits, dense, reduction="none") * mask
    return losses.sum() / (mask.sum() * len(EVENT_LABELS))


@torch.no_grad()
def predict_torch(net: EventClassifier, encoded: Encoded, batch_size: int = 64) -> np.ndarray:
    """Probabilities from the torch network, batched by length (used for dev scoring)."""
    net.eval()
    out = np.zeros((len(encoded), len(EVENT_LABELS)), dtype=np.float32)
    for batch in length_batches([len(ids) for ids, _ in encoded], batch_size):
        out[batch] = torch.sigmoid(net.logits(**_tensors([encoded[i] for i in batch]))).numpy()
    return out


@torch.no_grad()
def predict_torch_events(net: EventClassifier, encoded: Encoded, batch_size: int = 64) -> list[list[np.ndarray]]:
    """Per input, the torch network's event outputs (``EVENT_OUTPUTS`` order), unpadded ``(tokens, ...)``."""
    assert net.events is not None
    net.eval()
    out: list[list[np.ndarray]] = [[] for _ in encoded]
    for batch in length_batches([len(ids) for ids, _ in encoded], batch_size):
        inputs = _tensors([encoded[i] for i in batch])
        arrays = [a.numpy() for a in net.events(net.hidden(**inputs))]
        for row, i in enumerate(batch):
            out[i] = [a[row, : len(encoded[i][0])] for a in arrays]
    return out


def train_classifier(
    config: TransformerConfig,
    base_model: Path,
    train: Encoded,
    y_train: np.ndarray,
    dev: Encoded | None,
    dev_score: Callable[[np.ndarray], float],
    token_targets: Sequence[np.ndarray | None] | None = None,
    event_targets: Sequence[WindowTargets | None] | None = None,
    dev_event_score: Callable[[EventClassifier], float] | None = None,
) -> tuple[EventClassifier, TrainingLog]:
    """Fine-tune encoder and head; keep the best epoch on dev, stop after ``patience`` epochs without a better one.

    ``token_targets`` (see :func:`trigger_targets`) adds the trigger loss, weighted by
    ``config.trigger_weight``, for the sentences that have targets. ``event_targets`` (with
    ``config.events``) adds the event heads and their loss (:func:`event_loss`), weighted by
    ``config.event_weight``; with event heads, ``dev_event_score`` (of the network) is added to the dev
    score that picks the epoch.
    """
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    try:
        from tqdm.auto import tqdm
        from transformers import get_linear_schedule_with_warmup

        seed_everything(config.seed)
        rng = np.random.default_rng(config.seed)
        use_triggers = token_targets is not None and any(t is not None for t in token_targets)
        use_events = bool(config.events) and event_targets is not None
        net = EventClassifier(
            load_encoder(base_model),
            token_head=use_triggers,
            pooling=config.pooling,
            event_dim=config.event_dim if use_events else None,
        )
        lengths = [len(ids) for ids, _ in train]
        steps = config.epochs * -(-len(train) // config.batch_size)
        groups: dict[tuple[bool, bool], list[nn.Parameter]] = {}  # (event head, decayed) -> parameters
        for n, p in net.named_parameters():
            groups.setdefault((n.startswith("events."), p.ndim > 1 and "LayerNorm" not in n), []).append(p)
        optimizer = torch.optim.AdamW(
            [
                {
                    "params": params,
                    "weight_decay": config.weight_decay if decayed else 0.0,
                    "lr": config.learning_rate * (config.event_lr_scale if head else 1.0),
                }
                for (head, decayed), params in sorted(groups.items())
            ],
            lr=config.learning_rate,
        )
        scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
        loss_fn = nn.BCEWithLogitsLoss()
        targets = torch.from_numpy(np.asarray(y_train, dtype=np.float32))
        log, best_state, best_score, worse = TrainingLog(), None, float("-inf"), 0
        started = time.perf_counter()
        for epoch in range(1, config.epochs + 1):
            net.train()
            bar = tqdm(
                _train_batches(lengths, config.batch_size, rng), desc=f"epoch {epoch}/{config.epochs}", unit="batch"
            )
            for batch in bar:
                inputs = _tensors([train[i] for i in batch])
                hidden = net.hidden(**inputs)
                pooled = net.pooled_logits(hidden, inputs["attention_mask"], inputs["token_type_ids"])
                loss = loss_fn(pooled, targets[batch])
                if use_triggers and token_targets is not None:
                    rows = [token_targets[i] for i in batch]
                    loss = loss + config.trigger_weight * _trigger_loss(net, hidden, rows, inputs)
                if use_events and event_targets is not None and net.events is not None:
                    windows = [event_targets[i] for i in batch]
                    events = event_loss(net.events, net.dropout(hidden), windows, config.event_trigger_weight)
                    loss = loss + config.event_weight * events
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad()
                bar.set_postfix(loss=f"{loss.item():.4f}")
            log.epochs_run = epoch
            if dev is None:
                continue
            score = dev_score(predict_torch(net, dev))
            part = ""
            if dev_event_score is not None and net.events is not None:
                event_score = dev_event_score(net)
                log.dev_event_scores.append(round(event_score, 4))
                part = f" (sentences {score:.4f} + events {event_score:.4f})"
                score += event_score
            log.dev_scores.append(round(score, 4))  # rounded for the log only; compare the raw score
            bar.write(f"epoch {epoch}: dev score {score:.4f}{part}")
            if score > best_score:
                best_state, best_score, log.best_epoch, worse = copy.deepcopy(net.state_dict()), score, epoch, 0
            else:
                worse += 1
                if worse >= config.patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        else:
            log.best_epoch = log.epochs_run
        log.seconds = round(time.perf_counter() - started, 1)
        log.train_sentences_per_s = round(log.epochs_run * len(train) / max(log.seconds, 1e-9), 1)
        return net.eval(), log
    finally:  # leave the caller's torch settings as they were
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def export_onnx(net: EventClassifier, example: tuple[list[int], list[int]]) -> bytes:
    """The network (with sigmoid) as an fp32 ONNX graph with dynamic batch and sequence axes.

    ``example`` is one encoded input of three or more tokens; it is traced in a batch with a shorter
    copy of itself so that the attention-mask path for padded batches is the one recorded. Attention
    is traced in its eager form (matrix products and a softmax): the scaled-dot-product path adds
    masking and NaN-guard nodes (``Where``, ``IsNaN``) to every layer, and the eager graph's static
    int8 copy ran 12% faster side by side on the shipped network. The network's own attention setting
    is restored afterwards.
    """
    ids, types = example
    if len(ids) < 3:
        raise ValueError("the export example needs at least three tokens")
    net.eval()
    inputs = _tensors([example, (ids[:1] + ids[-1:], types[:1] + types[-1:])])
    axes = {name: {0: "batch", 1: "tokens"} for name in INPUT_NAMES} | {OUTPUT_NAME: {0: "batch"}}
    outputs = [OUTPUT_NAME]
    if net.events is not None:
        outputs += list(EVENT_OUTPUTS)
        axes |= {name: {0: "batch", 1: "tokens"} for name in EVENT_OUTPUTS}
    attention = str(getattr(net.encoder.config, "_attn_implementation", None) or "eager")
    switch = attention != "eager" and hasattr(net.encoder, "set_attn_implementation")
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)  # traced constants are shape-free here
        warnings.filterwarnings("ignore", message=".*advanced indexing.*")  # indices are never negative
        target = Path(tmp) / "model.onnx"
        try:
            if switch:
                net.encoder.set_attn_implementation("eager")
            torch.onnx.export(
                net,
                tuple(inputs[name] for name in INPUT_NAMES),
                target,
                input_names=list(INPUT_NAMES),
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        finally:
            if switch:
                net.encoder.set_attn_implementation(attention)
        return target.read_bytes()


def quantize_onnx(
    model: bytes,
    per_channel: bool = False,
    calibration: Encoded | None = None,
    exclude: Sequence[str] = (),
    reduce_range: bool = False,
) -> bytes:
    """Int8 quantisation of an fp32 graph with onnxruntime: static when ``calibration`` is given, else dynamic.

    Dynamic quantisation picks each activation's scale at run time from the whole batch tensor, so
    a sentence's scores move with the sentences that share its batch (by up to 0.24 in probability
    on the real model; 1.4% of 712 dev sentences changed labels between alone and batched). Static
    quantisation fixes the scales from ``calibration`` inputs, so every sentence scores the same in
    any company. Scales are the 99.99th percentile of each activation (min-max scales moved test
    weighted F1 by up to 2 points between calibration samples; percentiles by 0.1 to 0.5, though a
    sentence's int8 probability can still sit far from fp32's: ``benchmarks/quantization_fidelity.py``). Only matrix
    products and the embedding lookups are quantised, except the nodes named in ``exclude``. ``reduce_range``
    (dynamic only) quantises weights to 7 bits, which onnxruntime advises for CPUs without VNNI, whose u8 x s8
    kernels can saturate an intermediate sum.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_dynamic, quantize_static

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(model)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # onnxruntime logs an advisory on the root logger for every call
        try:
            if calibration is None:
                quantize_dynamic(
                    src,
                    dst,
                    weight_type=QuantType.QInt8,
                    per_channel=per_channel,
                    reduce_range=reduce_range,
                    nodes_to_exclude=list(exclude),
                )
            else:
                with contextlib.redirect_stdout(io.StringIO()):  # the calibrator prints progress
                    quantize_static(
                        src,
                        dst,
                        _CalibrationReader(calibration),
                        quant_format=QuantFormat.QOperator,
                        activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8,
                        op_types_to_quantize=["MatMul", "Gather"],
                        per_channel=per_channel,
                        nodes_to_exclude=list(exclude),
                        calibrate_method=CalibrationMethod.Percentile,
                        extra_options={"CalibPercentile": 99.99},
                    )
        finally:
            root.setLevel(level)
        return dst.read_bytes()


class _CalibrationReader:
    """Calibration inputs for ``quantize_static``: length-grouped batches, all padded to one shape.

    The percentile calibrator stacks every batch's activations, so batches must share their shape.
    """

    def __init__(self, encoded: Encoded, batch_size: int = 32) -> None:
        batches = [pad_batch([encoded[i] for i in b]) for b in length_batches([len(e[0]) for e in encoded], batch_size)]
        width = max(len(ids) for ids, _ in encoded)
        self._batches = iter(
            [
                {k: np.pad(v, ((0, batch_size - v.shape[0]), (0, width - v.shape[1]))) for k, v in batch.items()}
                for batch in batches
            ]
        )

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._batches, None)

    def rewind(self) -> None:  # pragma: no cover - the calibrator reads the data once
        raise NotImplementedError


def save_torch_checkpoint(net: EventClassifier, path: Path, tokenizer_json: str, settings: dict[str, Any]) -> None:
    """Keep the fp32 torch weights (outside the shipped model) for benchmarks and comparisons."""
    from safetensors.torch import save_file

    path.mkdir(parents=True, exist_ok=True)
    net.encoder.save_pretrained(path)
    heads = {f"head.{k}": v for k, v in net.head.state_dict().items()}
    if net.token_head is not None:
        heads |= {f"token_head.{k}": v for k, v in net.token_head.state_dict().items()}
    if net.events is not None:
        heads |= {f"events.{k}": v for k, v in net.events.state_dict().items()}
    save_file({k: v.contiguous() for k, v in heads.items()}, str(path / HEAD_FILE))
    settings = settings | {"pooling": net.pooling}
    if net.events is not None:
        settings["event_dim"] = net.events.trigger_proj[0].out_features
    (path / "tokenizer.json").write_text(tokenizer_json, encoding="utf-8")
    (path / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")


def load_torch_checkpoint(path: Path) -> tuple[EventClassifier, str, dict[str, Any]]:
    """The network, tokenizer JSON and settings written by :func:`save_torch_checkpoint`."""
    from safetensors.torch import load_file

    settings = json.loads((path / "settings.json").read_text(encoding="utf-8"))
    heads = load_file(str(path / HEAD_FILE))
    net = EventClassifier(
        load_encoder(path),
        token_head=any(k.startswith("token_head.") for k in heads),
        pooling=settings["pooling"],
        event_dim=settings.get("event_dim"),
    )
    net.head.load_state_dict({k[5:]: v for k, v in heads.items() if k.startswith("head.")})
    if net.token_head is not None:
        net.token_head.load_state_dict({k[11:]: v for k, v in heads.items() if k.startswith("token_head.")})
    if net.events is not None:
        net.events.load_state_dict({k[7:]: v for k, v in heads.items() if k.startswith("events.")})
    return net.eval(), (path / "tokenizer.json").read_text(encoding="utf-8"), settings
