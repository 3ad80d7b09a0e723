"""The fast baseline: TF-IDF word + character n-grams, one logistic regression per event label."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

import numpy as np

from ..corpus import Document
from ..labels import EVENT_LABELS
from .base import DocLike, EventModel, ModelConfig, ModelLoadError, flatten_labels, flatten_texts
from .features import NgramFeaturizer


@dataclass
class LinearConfig(ModelConfig):
    word_ngram_max: int = 2
    char_ngram_min: int = 3
    char_ngram_max: int = 5  # 0 turns character n-grams off
    min_df: int = 2
    max_features: int | None = None
    C: float = 10.0
    class_weight: str | None = None

    def validate(self) -> None:
        super().validate()
        if not 1 <= self.word_ngram_max <= 4:
            raise ValueError("word_ngram_max must be between 1 and 4")
        if self.char_ngram_max and not 1 <= self.char_ngram_min <= self.char_ngram_max <= 8:
            raise ValueError("need 1 <= char_ngram_min <= char_ngram_max <= 8 (or char_ngram_max = 0)")
        if self.min_df < 1 or (self.max_features is not None and self.max_features < 1):
            raise ValueError("min_df and max_features must be positive")
        if self.C <= 0:
            raise ValueError("C must be positive")
        if self.class_weight not in (None, "balanced"):
            raise ValueError("class_weight must be null or 'balanced'")

    @property
    def char_range(self) -> tuple[int, int] | None:
        return (self.char_ngram_min, self.char_ngram_max) if self.char_ngram_max else None


class LinearModel(EventModel):
    kind = "linear"
    config_class = LinearConfig
    config: LinearConfig

    def __init__(self, config: LinearConfig | None = None) -> None:
        super().__init__(config)
        self.featurizer: NgramFeaturizer | None = None
        self.coef = np.zeros((len(EVENT_LABELS), 0), dtype=np.float32)
        self.intercept = np.zeros(len(EVENT_LABELS), dtype=np.float32)

    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        from sklearn.linear_model import LogisticRegression  # here: tagging never imports scikit-learn

        cfg = self.config
        texts, y = flatten_texts(train), flatten_labels(train)
        if not texts:
            raise ValueError("no training sentences")
        self.featurizer = NgramFeaturizer.fit(
            texts,
            word_max=cfg.word_ngram_max,
            char_range=cfg.char_range,
            min_df=cfg.min_df,
            max_features=cfg.max_features,
        )
        x = self.featurizer.transform(texts)
        coef = np.zeros((len(EVENT_LABELS), x.shape[1]), dtype=np.float32)
        intercept = np.zeros(len(EVENT_LABELS), dtype=np.float32)
        for j in range(len(EVENT_LABELS)):
            if y[:, j].min() == y[:, j].max():  # label absent (or always present) in train: constant score
                intercept[j] = 10.0 if y[0, j] else -10.0
                continue
            clf = LogisticRegression(
                C=cfg.C, class_weight=cfg.class_weight, solver="liblinear", max_iter=2000, random_state=cfg.seed
            )
            clf.fit(x, y[:, j])
            coef[j], intercept[j] = clf.coef_[0], clf.intercept_[0]
        self.coef, self.intercept = coef, intercept
        return self

    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        if self.featurizer is None:
            raise RuntimeError("the model is not fitted")
        texts = flatten_texts(docs)
        if not texts:
            return np.zeros((0, len(EVENT_LABELS)))
        logits = self.featurizer.transform(texts) @ self.coef.T + self.intercept
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, dtype=np.float64)))

    def _save_weights(self, path: Path) -> None:
        if self.featurizer is None:
            raise RuntimeError("cannot save a model that is not fitted")
        (path / "vocabulary.json").write_text(
            json.dumps(self.featurizer.features, ensure_ascii=False), encoding="utf-8"
        )
        np.save(path / "idf.npy", self.featurizer.idf, allow_pickle=False)
        np.save(path / "coef.npy", self.coef.astype(np.float32), allow_pickle=False)
        np.save(path / "intercept.npy", self.intercept.astype(np.float32), allow_pickle=False)

    def _load_weights(self, path: Path) -> None:
        try:
            vocabulary = json.loads((path / "vocabulary.json").read_text(encoding="utf-8"))
            idf = np.load(path / "idf.npy", allow_pickle=False)
            self.coef = np.load(path / "coef.npy", allow_pickle=False)
            self.intercept = np.load(path / "intercept.npy", allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot read linear model weights in {path}: {exc}") from None
        if not (len(vocabulary) == idf.shape[0] == self.coef.shape[1] and self.coef.shape[0] == len(EVENT_LABELS)):
            raise ModelLoadError(f"linear model weights in {path} have inconsistent shapes")
        self.featurizer = NgramFeaturizer(vocabulary, idf, self.config.word_ngram_max, self.config.char_range)

    def card_details(self) -> str:
        n = self.featurizer.n_features if self.featurizer else 0
        cfg = self.config
        return (
            f"## Model\n\nTF-IDF (sublinear tf, L2) over word 1-{cfg.word_ngram_max}-grams and word-bounded "
            f"character {cfg.char_ngram_min}-{cfg.char_ngram_max}-grams ({n:,} features), one L2-regularised "
            "logistic regression per event label (scikit-learn, liblinear).\n\n"
            "Events: this model has no event extractor. It labels sentences only; `predict_events` returns no "
            "events, so its event extraction scores (`threatevents evaluate --events-dir`) are 0."
        )
