"""Training any kind: fit on train, tune thresholds on dev, score the evaluation split, save (linear, tiny corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_documents
from threatevents.corpus import Corpus, Document, Sentence
from threatevents.labels import EVENT_LABELS
from threatevents.models import load_model
from threatevents.train import parse_overrides, train_and_save, train_model

LINEAR = {"min_df": 1}


def test_parse_overrides_reads_json_values_and_keeps_plain_strings() -> None:
    assert parse_overrides(["epochs=3", "learning-rate=2e-5", "context=headline", "max_features=null"]) == {
        "epochs": 3,
        "learning_rate": 2e-5,
        "context": "headline",
        "max_features": None,
    }
    assert parse_overrides(["class_weight=balanced", "note=a=b"]) == {"class_weight": "balanced", "note": "a=b"}
    assert parse_overrides([]) == {}


@pytest.mark.parametrize("bad", ["epochs", "=3"])
def test_parse_overrides_refuses_pairs_without_key_or_value_sign(bad: str) -> None:
    with pytest.raises(ValueError, match="expected KEY=VALUE"):
        parse_overrides([bad])


def test_train_model_tunes_on_dev_and_scores_dev_and_test(tiny_corpus: Corpus) -> None:
    model = train_model(tiny_corpus, "linear", LINEAR)
    m = model.metrics
    assert m["kind"] == "linear" and m["eval_split"] == "test"
    assert m["n_train_documents"] == 40 and m["n_feedback_documents"] == 0
    assert m["n_train_sentences"] == sum(len(d.sentences) for d in tiny_corpus.split("train"))
    assert (m["dev"]["split"], m["dev"]["n_documents"]) == ("dev", 12)
    assert (m["test"]["split"], m["test"]["n_documents"]) == ("test", 12)
    assert m["dev"]["model"] == m["test"]["model"] == "linear: not saved"
    assert not np.allclose(model.thresholds, 0.5)  # tuned on dev
    assert model.config.to_dict()["min_df"] == 1


def test_train_model_can_evaluate_another_split(tiny_corpus: Corpus) -> None:
    m = train_model(tiny_corpus, "linear", LINEAR, eval_split="dev").metrics
    assert m["eval_split"] == "dev" and m["test"]["split"] == "dev"


def test_corpus_without_splits_trains_on_everything_and_keeps_default_thresholds() -> None:
    docs = make_documents(20, seed=4)
    model = train_model(Corpus({d.id: d for d in docs}), "linear", LINEAR)
    assert model.metrics["n_train_documents"] == 20
    assert "dev" not in model.metrics and "test" not in model.metrics
    assert np.allclose(model.thresholds, 0.5)


def test_feedback_joins_train_only(tiny_corpus: Corpus) -> None:
    review = Document("review-1", [Sentence("Criminals emptied the payroll account.", ("AttackDatabreach",))])
    base = train_model(tiny_corpus, "linear", LINEAR).metrics
    m = train_model(tiny_corpus, "linear", LINEAR, feedback=[review]).metrics
    assert m["n_feedback_documents"] == 1
    assert m["n_train_sentences"] == base["n_train_sentences"] + 1
    assert m["test"]["n_sentences"] == base["test"]["n_sentences"]


@pytest.mark.parametrize(
    ("kind", "overrides", "message"),
    [("forest", {}, "unknown model kind"), ("linear", {"C": -1}, "C must be positive"), ("linear", {"x": 1}, "x")],
)
def test_bad_kind_or_config_is_refused_before_fitting(
    tiny_corpus: Corpus, kind: str, overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        train_model(tiny_corpus, kind, overrides)


def test_train_and_save_writes_a_loadable_model_named_after_its_folder(
    tiny_corpus: Corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    model = train_and_save(tiny_corpus, Path("models") / "lin", "linear", LINEAR)
    saved = json.loads((tmp_path / "models" / "lin" / "metrics.json").read_text(encoding="utf-8"))
    assert saved["test"]["model"] == saved["dev"]["model"] == "linear: models/lin"
    loaded = load_model(tmp_path / "models" / "lin")
    docs = tiny_corpus.split("test")
    np.testing.assert_array_equal(loaded.predict_proba(docs), model.predict_proba(docs))
    assert loaded.thresholds.tolist() == model.thresholds.tolist()
    assert len(loaded.thresholds) == len(EVENT_LABELS)
