"""The model card (README.md of a saved model), rendered from plain data."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import make_documents
from threatevents.labels import EVENT_LABELS
from threatevents.models.card import render_card
from threatevents.models.linear import LinearConfig, LinearModel

CONFIG = {"seed": 13, "C": 4.0, "char_ngram_max": 0}
THRESHOLDS = [0.3, 0.41, 0.5, 0.625, 0.7]
TEST = {
    "weighted_f1": 0.8123,
    "macro_f1": 0.5,
    "n_documents": 90,
    "per_label": {"AttackRansom": {"precision": 0.9, "recall": 0.75, "f1": 0.8181, "support": 12}},
}


def _json_block(card: str) -> dict[str, object]:
    match = re.search(r"```json\n(.*?)\n```", card, re.S)
    assert match, card
    return json.loads(match.group(1))


def test_card_names_the_kind_and_holds_the_config_as_json() -> None:
    card = render_card("linear", CONFIG, THRESHOLDS, {})
    assert card.startswith("# threatevents model: linear\n")
    assert _json_block(card) == CONFIG


def test_thresholds_are_listed_per_label_in_schema_order() -> None:
    card = render_card("linear", CONFIG, THRESHOLDS, {})
    rows = re.findall(r"^\| (\w+) \| ([0-9.]+) \|$", card, re.M)
    assert rows == [(name, f"{t:.3f}") for name, t in zip(EVENT_LABELS, THRESHOLDS, strict=True)]


def test_scores_section_comes_from_the_test_metrics() -> None:
    card = render_card("linear", CONFIG, THRESHOLDS, {"test": TEST, "eval_split": "dev"})
    assert "## Scores on `dev`" in card
    assert "| weighted_f1 | 0.812 |" in card and "| macro_f1 | 0.500 |" in card
    assert "n_documents" not in card  # only the headline metrics are listed
    assert "| AttackRansom | 0.900 | 0.750 | 0.818 | 12 |" in card
    assert "## Scores" not in render_card("linear", CONFIG, THRESHOLDS, {})  # untested model: no section


def test_scores_section_names_the_runtime_and_cpu_it_was_measured_on() -> None:
    env = {"machine": "x86_64", "cpu_features": ["avx2", "avx512_vnni"], "packages": {"onnxruntime": "1.32.0"}}
    card = render_card("transformer", CONFIG, THRESHOLDS, {"test": TEST | {"environment": env}})
    assert "Measured with onnxruntime 1.32.0, on x86_64, CPU features avx2, avx512_vnni." in card
    assert "Measured with" not in render_card("linear", CONFIG, THRESHOLDS, {"test": TEST})  # not recorded
    odd = {"machine": 3, "cpu_features": "avx2", "packages": ["onnxruntime"]}  # a hand-edited metrics.json
    card = render_card("linear", CONFIG, THRESHOLDS, {"test": TEST | {"environment": odd}})
    assert "Measured with onnxruntime unknown, CPU features unknown." in card  # not a record of its absence
    missing = {"packages": {"onnxruntime": None}, "cpu_features": []}  # recorded as not installed
    card = render_card("linear", CONFIG, THRESHOLDS, {"test": TEST | {"environment": missing}})
    assert "Measured with no onnxruntime, CPU features none of note." in card
    card = render_card("linear", CONFIG, THRESHOLDS, {"test": TEST | {"environment": "fast box"}})
    assert "Measured with" not in card and "| weighted_f1 | 0.812 |" in card


def test_data_line_and_kind_details() -> None:
    default = render_card("linear", CONFIG, THRESHOLDS, {})
    assert "CASIE sentence corpus" in default
    own = render_card("linear", CONFIG, THRESHOLDS, {"data": "Trained on our own reports."}, "## Extra\n\n- fast\n")
    assert "Trained on our own reports." in own and "CASIE" not in own
    assert own.index("## Extra") < own.index("## Limits")


def test_saved_model_readme_is_its_card(tmp_path: Path) -> None:
    model = LinearModel(LinearConfig(min_df=1)).fit(make_documents(16, seed=1))
    model.metrics = {"test": TEST}
    model.save(tmp_path / "m")
    expected = render_card(
        "linear", model.config.to_dict(), model.thresholds.tolist(), model.metrics, model.card_details()
    )
    assert "## Model" in expected  # the kind's own details are part of it
    assert (tmp_path / "m" / "README.md").read_text(encoding="utf-8") == expected
