"""Model kinds and loading. Every kind implements :class:`~threatevents.models.base.EventModel`."""

from __future__ import annotations

import importlib
from pathlib import Path

from .base import EventModel, ModelConfig, ModelLoadError, read_model_config

# kind -> "module:Class"; imported lazily so that e.g. the linear model never imports onnxruntime.
MODEL_KINDS: dict[str, str] = {
    "linear": "threatevents.models.linear:LinearModel",
    "transformer": "threatevents.models.transformer:TransformerModel",
}
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "shipped"
SHIPPED_NAMES = ("default", "linear", "events")


def model_class(kind: str) -> type[EventModel]:
    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; choose from {', '.join(MODEL_KINDS)}")
    module_name, class_name = MODEL_KINDS[kind].split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(
            f"the {kind!r} model kind needs a package that is not installed ({exc.name}); "
            f"for training try `pip install 'threatevents[train]'`"
        ) from None
    cls: type[EventModel] = getattr(module, class_name)
    return cls


def resolve_model_path(name_or_path: str | Path | None = None) -> Path:
    """``None``/``"default"`` -> the shipped default; ``"linear"``/``"events"`` -> that shipped model; else a path."""
    if name_or_path is None or str(name_or_path) in SHIPPED_NAMES:
        return SHIPPED_DIR / ("default" if name_or_path is None else str(name_or_path))
    return Path(name_or_path)


def describe_model_path(path: str | Path) -> str:
    """Where a model directory is, for people: ``shipped model "linear"`` for a shipped model, else the
    path (relative to the working directory when it lies below it)."""
    resolved = Path(path).resolve()
    if resolved.parent == SHIPPED_DIR:
        return f'shipped model "{resolved.name}"'
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def load_model(name_or_path: str | Path | None = None, *, threads: int | None = None) -> EventModel:
    """Load a saved model directory (checked against its sha256 manifest) of any kind.

    ``threads``: intra-op threads of the model's runtime (onnxruntime for the transformer kind; the
    linear kind has no thread pool of its own). ``None`` lets the runtime use the cores this process may
    use; give 1 when several worker processes share the cores (``threatevents.batch`` does).
    """
    path = resolve_model_path(name_or_path)
    if not path.exists():
        raise ModelLoadError(f"model not found: {path} (give a model directory, 'default' or 'linear')")
    kind = read_model_config(path)["kind"]
    return model_class(kind).load(path, threads=threads)


__all__ = [
    "MODEL_KINDS",
    "EventModel",
    "ModelConfig",
    "ModelLoadError",
    "describe_model_path",
    "load_model",
    "model_class",
    "resolve_model_path",
]
