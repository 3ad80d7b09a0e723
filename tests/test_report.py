"""The evaluation report folder: Markdown summary, metrics.json and the PNG plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import numpy as np
import pytest

from threatevents.corpus import Document, Sentence
from threatevents.evaluate import EvaluationResult, evaluate_predictions
from threatevents.labels import ALL_LABELS, EVENT_LABELS, events_to_matrix, matrix_to_labels
from threatevents.report import COOCCURRENCE_PLOT, F1_PLOT, PR_PLOT, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _result(with_probs: bool) -> EvaluationResult:
    rng = np.random.default_rng(7)
    label_sets = [(name,) for name in EVENT_LABELS[1:]] + [("O",), ("DiscoverVulnerability", "PatchVulnerability")]
    gold = [label_sets[i % len(label_sets)] for i in range(30)]  # AttackDatabreach never occurs
    docs = [Document(f"doc{d}", [Sentence(f"s{d}-{i}", gold[d * 6 + i]) for i in range(6)]) for d in range(5)]
    probs = np.clip(events_to_matrix(gold) * 0.5 + rng.random((30, len(EVENT_LABELS))) * 0.6, 0, 1)
    return evaluate_predictions(
        docs, matrix_to_labels(probs >= 0.5), probs if with_probs else None, model="linear (toy)", split="dev"
    )


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == PNG_SIGNATURE and path.stat().st_size > 5000


def test_report_folder_has_summary_metrics_and_plots(tmp_path: Path) -> None:
    result = _result(with_probs=True)
    readme = write_report(result, tmp_path / "report", title="Toy evaluation")
    folder = readme.parent
    assert readme.name == "README.md"
    for plot in (F1_PLOT, COOCCURRENCE_PLOT, PR_PLOT):
        assert _is_png(folder / plot), plot
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("# Toy evaluation")
    for expected in (
        f"]({F1_PLOT})",
        f"]({COOCCURRENCE_PLOT})",
        f"]({PR_PLOT})",
        "linear (toy)",
        "**Split:** dev",
        "## Document level",
        f"{result.averages['micro'].f1:.3f}",
        *ALL_LABELS,
    ):
        assert expected in text
    assert json.loads((folder / "metrics.json").read_text(encoding="utf-8")) == result.to_dict()


def test_report_without_probabilities_skips_the_curves_with_a_note(tmp_path: Path) -> None:
    folder = tmp_path / "report"
    write_report(_result(with_probs=True), folder)
    readme = write_report(_result(with_probs=False), folder)  # rewriting removes the stale curves
    assert not (folder / PR_PLOT).exists()
    assert _is_png(folder / F1_PLOT) and _is_png(folder / COOCCURRENCE_PLOT)
    text = readme.read_text(encoding="utf-8")
    assert f"]({PR_PLOT})" not in text and "no model probabilities" in text


def test_plotting_leaves_global_matplotlib_state_alone(tmp_path: Path) -> None:
    backend, font_size = matplotlib.get_backend(), matplotlib.rcParams["font.size"]
    write_report(_result(with_probs=True), tmp_path)
    assert matplotlib.get_backend() == backend and matplotlib.rcParams["font.size"] == font_size


def test_pr_curves_need_probabilities(tmp_path: Path) -> None:
    from threatevents.report import plot_pr_curves

    with pytest.raises(ValueError, match="probabilities"):
        plot_pr_curves(_result(with_probs=False), tmp_path / "x.png")
