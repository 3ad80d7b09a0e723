import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from threatevents.models.features import NgramFeaturizer, make_analyzer

TEXTS = [
    "Ransomware encrypted the servers of Acme.",
    "A flaw in the router was patched.",
    "Phishing emails hit the staff of Acme.",
    "The servers were patched after the flaw.",
]


def test_fast_transform_equals_sklearn_transform():
    vec = TfidfVectorizer(analyzer=make_analyzer(2, (3, 5)), sublinear_tf=True, min_df=1, dtype=np.float32)
    vec.fit(TEXTS)
    feat = NgramFeaturizer.fit(TEXTS, min_df=1)
    new = ["", *TEXTS, "Unseen words only xyzzy", "", "patched patched patched router", ""]  # empty rows anywhere
    np.testing.assert_array_equal(feat.transform(new).toarray(), vec.transform(new).toarray())  # to the bit


def test_words_only_featurizer_has_no_char_features():
    feat = NgramFeaturizer.fit(TEXTS, char_range=None, min_df=1)
    assert "the servers" in feat.vocab and not any(f.startswith(" ") for f in feat.features)
    assert feat.transform(["the servers"]).nnz == 3
