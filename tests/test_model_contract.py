"""One contract for every model kind: fit, predict, save, load, identical predictions after reload."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import make_documents
from threatevents.labels import ALL_LABELS
from threatevents.models import MODEL_KINDS, EventModel, load_model, model_class

TINY_TRANSFORMER = {
    "epochs": 1,
    "batch_size": 8,
    "max_length": 64,
    "learning_rate": 1e-3,
}
# (kind, config overrides) per variant; a fixture-valued override is resolved per test session
VARIANTS: dict[str, tuple[str, dict[str, object]]] = {
    "linear": ("linear", {"min_df": 1}),
    "transformer": ("transformer", TINY_TRANSFORMER | {"linear_weight": 0.0, "cascade_below": 0.0}),
    "transformer+linear": ("transformer", TINY_TRANSFORMER | {"linear_weight": None, "cascade_below": None}),
}


@pytest.fixture(scope="module", params=sorted(VARIANTS))
def fitted(request: pytest.FixtureRequest) -> EventModel:
    assert {kind for kind, _ in VARIANTS.values()} == set(MODEL_KINDS), "every registered kind needs a variant"
    kind, overrides = VARIANTS[request.param]
    if kind == "transformer":
        overrides = overrides | {"base_model": str(request.getfixturevalue("tiny_encoder_dir"))}
    cls = model_class(kind)
    model = cls(cls.config_class.from_dict(overrides))
    model.fit(make_documents(16, seed=1), make_documents(4, seed=2))
    model.tune_thresholds(make_documents(4, seed=2))
    return model


def test_predict_proba_is_one_row_per_sentence_in_order(fitted: EventModel) -> None:
    docs = make_documents(3, seed=9)
    probs = fitted.predict_proba(docs)
    assert probs.shape == (sum(len(d.sentences) for d in docs), 5)
    assert np.all((probs >= 0) & (probs <= 1))
    separately = np.vstack([fitted.predict_proba([d]) for d in docs])
    # a sentence scores the same whatever shares its batch (static quantisation for the transformer)
    np.testing.assert_allclose(probs, separately, atol=1e-5)


def test_predict_applies_thresholds_and_derives_o(fitted: EventModel) -> None:
    docs = make_documents(3, seed=9)
    probs, labels = fitted.predict_proba(docs), fitted.predict(docs)
    for row, predicted in zip(probs, labels, strict=True):
        above = {name for name, p, t in zip(ALL_LABELS, row, fitted.thresholds, strict=False) if p >= t}
        assert set(predicted) == (above or {"O"})


def test_save_load_gives_identical_predictions(fitted: EventModel, tmp_path: Path) -> None:
    docs = make_documents(6, seed=11)
    fitted.save(tmp_path / "m")
    again = load_model(tmp_path / "m")
    assert type(again) is type(fitted) and again.config == fitted.config
    np.testing.assert_array_equal(again.thresholds, fitted.thresholds)
    assert again.predict(docs) == fitted.predict(docs)
    np.testing.assert_allclose(again.predict_proba(docs), fitted.predict_proba(docs), atol=1e-6)


def test_tag_returns_jsonl_records(fitted: EventModel) -> None:
    records = fitted.tag("Ransomware encrypted 300 computers at Acme.\n\nShares closed slightly higher.")
    assert [r["index"] for r in records] == [0, 1]
    assert set(records[0]["scores"]) == set(ALL_LABELS)


def test_predict_events_is_one_list_per_document(fitted: EventModel, tmp_path: Path) -> None:
    from threatevents.events import check_event, join_sentences

    docs = make_documents(3, seed=9)
    events = fitted.predict_events(docs)
    assert len(events) == len(docs)
    for doc, found in zip(docs, events, strict=True):
        for event in found:  # offsets into the document's sentences joined
            check_event(event, join_sentences(doc.texts)[0])
    if not fitted.has_event_extractor:
        assert events == [[], [], []]
    if fitted.kind == "linear":  # the linear model says in its card that it extracts no events
        assert "this model has no event extractor" in (fitted.save(tmp_path / "m") / "README.md").read_text()
