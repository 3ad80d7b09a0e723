"""TF-IDF features from word 1-2-grams and word-bounded character n-grams, with a fast transform.

scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfVectorizer` fits the vocabulary and
idf weights (with :func:`analyze` as its analyzer). Transforming is what runs at tagging time, and
there sklearn spends most of its time looking up hundreds of character n-grams per sentence in a
dict. News text repeats its words, so :class:`NgramFeaturizer` caches each word's feature ids
and builds the sparse matrix with NumPy and SciPy; ``tests/test_features.py`` checks the result equals
sklearn's transform. scikit-learn is imported only to fit, so a process that only tags never imports it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from itertools import pairwise

import numpy as np
import scipy.sparse as sp

TOKEN = re.compile(r"(?u)\b\w\w+\b")
_CACHE_SIZE = 200_000


def _char_ngrams(word: str, lo: int, hi: int) -> list[str]:
    padded = f" {word} "
    return [padded[i : i + n] for n in range(lo, hi + 1) for i in range(len(padded) - n + 1)]


def make_analyzer(word_max: int, char_range: tuple[int, int] | None) -> Callable[[str], list[str]]:
    """Analyzer producing word n-grams (1..word_max) and, optionally, char n-grams per word."""

    def analyze(text: str) -> list[str]:
        tokens = TOKEN.findall(text.lower())
        out = list(tokens)
        for n in range(2, word_max + 1):
            out += [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        if char_range:
            for token in tokens:
                out += _char_ngrams(token, *char_range)
        return out

    return analyze


class NgramFeaturizer:
    """Fitted vocabulary + idf; transforms texts into L2-normalised sublinear TF-IDF rows."""

    def __init__(
        self, vocabulary: Sequence[str], idf: np.ndarray, word_max: int, char_range: tuple[int, int] | None
    ) -> None:
        self.features = list(vocabulary)
        self.vocab = {f: i for i, f in enumerate(self.features)}
        self.idf = np.asarray(idf, dtype=np.float32)
        self.word_max, self.char_range = word_max, char_range
        self._token_ids = lru_cache(maxsize=_CACHE_SIZE)(self._token_ids_uncached)

    @classmethod
    def fit(
        cls,
        texts: Sequence[str],
        *,
        word_max: int = 2,
        char_range: tuple[int, int] | None = (3, 5),
        min_df: int = 2,
        max_features: int | None = None,
    ) -> NgramFeaturizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vec = TfidfVectorizer(
            analyzer=make_analyzer(word_max, char_range),
            sublinear_tf=True,
            min_df=min_df,
            max_features=max_features,
            dtype=np.float32,
        )
        vec.fit(texts)
        vocabulary = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
        return cls(vocabulary, vec.idf_, word_max, char_range)

    @property
    def n_features(self) -> int:
        return len(self.features)

    def _token_ids_uncached(self, token: str) -> tuple[int, ...]:
        grams = [token, *(_char_ngrams(token, *self.char_range) if self.char_range else ())]
        return tuple(self.vocab[g] for g in grams if g in self.vocab)

    def _word_ngrams(self, tokens: list[str]) -> list[str]:
        if self.word_max == 2:
            return [a + " " + b for a, b in pairwise(tokens)]
        return [" ".join(tokens[i : i + n]) for n in range(2, self.word_max + 1) for i in range(len(tokens) - n + 1)]

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        vocab, token_ids, find = self.vocab, self._token_ids, TOKEN.findall
        ids: list[int] = []
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        for row, text in enumerate(texts):
            tokens = find(text.lower())
            for token in tokens:
                ids.extend(token_ids(token))
            ids.extend([vocab[g] for g in self._word_ngrams(tokens) if g in vocab])
            indptr[row + 1] = len(ids)
        indices = np.array(ids, dtype=np.int32)
        counts = sp.csr_matrix(
            (np.ones(indices.size, dtype=np.float32), indices, indptr), shape=(len(texts), self.n_features)
        )
        counts.sum_duplicates()
        counts.data = (np.log(counts.data) + 1.0) * self.idf[counts.indices]
        # L2-normalise each row as sklearn.preprocessing.normalize does, to the bit: float32 squares summed in
        # float64 in row order, each value divided in float64 and stored as float32 (an empty row stays zero)
        rows = np.repeat(np.arange(len(texts)), np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(rows, weights=(counts.data * counts.data).astype(np.float64), minlength=len(texts)))
        norms[norms == 0] = 1.0
        counts.data = (counts.data / norms[rows]).astype(np.float32)
        return counts
