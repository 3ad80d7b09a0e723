"""Render the README.md model card saved with every model, from plain data (no model object)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ..labels import EVENT_LABELS


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _measured_on(environment: object) -> str | None:
    """One line naming the runtime and CPU the scores were measured on (``environment`` as
    :func:`threatevents.environment.describe_environment` writes it); ``None`` when it is missing or malformed."""
    if not isinstance(environment, Mapping):
        return None
    packages = environment.get("packages")
    runtime = (packages if isinstance(packages, Mapping) else {}).get("onnxruntime", "unknown")  # None: not installed
    features = environment.get("cpu_features")
    shown = [str(f) for f in features] if isinstance(features, list) else None
    version = runtime if isinstance(runtime, str) else "unknown"
    parts = ["no onnxruntime" if runtime is None else f"onnxruntime {version}"]
    if isinstance(environment.get("machine"), str):
        parts.append(f"on {environment['machine']}")
    parts.append(f"CPU features {', '.join(shown) or 'none of note'}" if shown is not None else "CPU features unknown")
    return (
        f"Measured with {', '.join(parts)}. An int8 graph's integer kernels differ between onnxruntime releases "
        "(and possibly CPUs), so its event scores can move by about 0.01 on another machine."
    )


def render_card(
    kind: str, config: Mapping[str, Any], thresholds: Sequence[float], metrics: Mapping[str, Any], details: str = ""
) -> str:
    """The card of a model of ``kind``: data, configuration, thresholds (in :data:`EVENT_LABELS` order),
    the test scores found in ``metrics`` (as written by training) and the kind's own ``details`` (Markdown).
    """
    m = metrics
    lines = [
        f"# threatevents model: {kind}",
        "",
        "Multi-label sentence classifier for cyber events in threat reports: "
        + ", ".join(f"`{x}`" for x in EVENT_LABELS)
        + "; `O` when none passes its threshold.",
        "",
        "## Data",
        "",
        m.get(
            "data",
            "Trained on the `train` split of the CASIE sentence corpus "
            "(Satyapanich, Finin, Ferraro, AAAI 2020; sentence relabelling by stwater20), "
            "thresholds tuned on `dev`, scores below on the untouched `test` split.",
        ),
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(dict(config), indent=2),
        "```",
        "",
        "## Thresholds",
        "",
        "| label | threshold |",
        "|---|---|",
    ]
    lines += [f"| {name} | {t:.3f} |" for name, t in zip(EVENT_LABELS, thresholds, strict=True)]
    test = m.get("test") or {}
    if test:
        lines += ["", f"## Scores on `{m.get('eval_split', 'test')}`", ""]
        keys = ["weighted_f1", "micro_f1", "macro_f1", "events_macro_f1", "exact_match", "doc_micro_f1", "doc_macro_f1"]
        keys += [  # structured events, when scored against CASIE (TextEE's end-to-end scores)
            "trigger_id_f1",
            "trigger_cls_f1",
            "argument_id_f1",
            "argument_cls_f1",
            "argument_attached_id_f1",
            "argument_attached_cls_f1",
            "realis_accuracy",
        ]
        lines += ["| metric | value |", "|---|---|"] + [f"| {k} | {_fmt(test[k])} |" for k in keys if k in test]
        measured = _measured_on(test.get("environment"))
        if measured:
            lines += ["", measured]
        per_label = test.get("per_label") or {}
        if per_label:
            lines += ["", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
            lines += [
                f"| {name} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | {_fmt(v['f1'])} | {v['support']} |"
                for name, v in per_label.items()
            ]
    if details:
        lines += ["", details.rstrip()]
    lines += [
        "",
        "## Limits",
        "",
        "English security news of 2017-2019; five event types only. Scores on other sources "
        "(vendor reports, other years) will differ: check a sample before relying on it.",
        "",
    ]
    return "\n".join(lines)
