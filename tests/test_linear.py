import json

import numpy as np
import pytest

from conftest import run_without_training_libraries
from threatevents.models import ModelLoadError, load_model
from threatevents.models.linear import LinearConfig, LinearModel


@pytest.fixture(scope="module")
def fitted(tiny_corpus):
    model = LinearModel(LinearConfig(min_df=1)).fit(tiny_corpus.split("train"))
    model.tune_thresholds(tiny_corpus.split("dev"))
    return model


def test_learns_the_synthetic_events(fitted, tiny_corpus):
    test = tiny_corpus.split("test")
    predicted = fitted.predict(test)
    gold = [labels for d in test for labels in d.labels]
    assert sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold) > 0.8


def test_predict_proba_shape_and_range(fitted):
    probs = fitted.predict_proba([["Ransomware locked the files.", "Nothing happened."], ["A patch shipped."]])
    assert probs.shape == (3, 5) and np.all((probs >= 0) & (probs <= 1))
    assert fitted.predict_proba([]).shape == (0, 5)


def test_tampered_weights_are_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "m")
    coef = path / "coef.npy"
    data = bytearray(coef.read_bytes())
    data[-1] ^= 0xFF
    coef.write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="does not match its sha256"):
        load_model(path)


def test_truncated_or_missing_files_are_refused(fitted, tmp_path):
    path = fitted.save(tmp_path / "m")
    vocab = path / "vocabulary.json"
    vocab.write_bytes(vocab.read_bytes()[:100])
    with pytest.raises(ModelLoadError, match="modified or truncated"):
        load_model(path)
    vocab.unlink()
    with pytest.raises(ModelLoadError, match="incomplete"):
        load_model(path)
    (path / "manifest.json").unlink()
    with pytest.raises(ModelLoadError, match=r"manifest\.json is missing"):
        load_model(path)


def test_config_tampering_is_caught_by_manifest(fitted, tmp_path):
    path = fitted.save(tmp_path / "m")
    cfg = json.loads((path / "config.json").read_text())
    cfg["config"]["C"] = 1.0
    (path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelLoadError):
        load_model(path)


def test_saved_directory_layout_has_no_pickle(fitted, tmp_path):
    path = fitted.save(tmp_path / "m")
    names = {p.name for p in path.iterdir()}
    assert {"config.json", "labels.json", "thresholds.json", "metrics.json", "README.md", "manifest.json"} <= names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
    assert "linear" in (path / "README.md").read_text()


@pytest.mark.parametrize(
    "bad",
    [
        {"C": 0},
        {"word_ngram_max": 9},
        {"char_ngram_min": 6, "char_ngram_max": 3},
        {"class_weight": "heavy"},
        {"seed": -1},
    ],
)
def test_config_validates_itself(bad):
    with pytest.raises(ValueError):
        LinearConfig(**bad)


def test_config_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match="unknown LinearConfig field"):
        LinearConfig.from_dict({"learning_rate": 0.1})


def test_unfitted_model_cannot_predict_or_save(tmp_path):
    with pytest.raises(RuntimeError):
        LinearModel().predict_proba([["x"]])
    with pytest.raises(RuntimeError):
        LinearModel().save(tmp_path / "m")


def test_saved_model_predicts_without_scikit_learn(fitted, tmp_path):
    """scikit-learn fits the model; a process that only loads and tags never imports it (it costs about 1.5 s and
    130 MB at each start: `benchmarks/bench_startup.py`), and predicts what the fitting process predicts."""
    path = fitted.save(tmp_path / "m")
    docs = [["Ransomware locked the files.", "Nothing happened."], ["A patch shipped.", ""]]
    line = run_without_training_libraries(f"""
        import json
        from threatevents.models import load_model
        probs = load_model({str(path)!r}).predict_proba({docs!r})
        assert "sklearn" not in sys.modules
        print(json.dumps(probs.tolist()))
    """)
    np.testing.assert_allclose(json.loads(line), fitted.predict_proba(docs), rtol=1e-6)
