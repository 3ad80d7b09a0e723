"""The transformer kind: config checks, context pairs, batching, and the model contract on a tiny random encoder.

The encoder is a one-layer BERT with random weights and a WordPiece vocabulary learnt from the
test sentences, built in a temporary folder: no downloaded weights are needed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import make_documents, run_without_training_libraries
from threatevents.models.onnx_runtime import build_pairs, encode_documents, length_batches, pad_batch
from threatevents.models.transformer import TransformerModel
from threatevents.models.transformer_config import TransformerConfig

SHIPPED = Path(__file__).resolve().parents[1] / "src" / "threatevents" / "shipped" / "default"


@pytest.fixture(scope="module")
def tiny_base(tiny_encoder_dir: Path) -> Path:
    """The tiny random BERT from conftest (one layer, WordPiece vocabulary from the test sentences)."""
    return tiny_encoder_dir


def tiny_config(base: Path, **overrides: object) -> TransformerConfig:
    values: dict[str, object] = {
        "base_model": str(base),
        "epochs": 1,
        "batch_size": 8,
        "max_length": 64,
        "learning_rate": 1e-3,
        "context": "headline+neighbours",
        "pooling": "mean",
        "linear_weight": 0.0,
        "cascade_below": 0.0,
    }
    return TransformerConfig(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def fitted(tiny_base: Path) -> TransformerModel:
    return TransformerModel(tiny_config(tiny_base)).fit(make_documents(16, seed=1), make_documents(4, seed=2))


# -- config and helpers (no torch) --------------------------------------------------------------------
@pytest.mark.parametrize(
    "field, value",
    [
        ("epochs", 0),
        ("batch_size", -1),
        ("max_length", 4),
        ("patience", -1),
        ("learning_rate", 0.0),
        ("context", "paragraph"),
        ("quantize", "yes"),
        ("pooling", "max"),
        ("trigger_weight", -1.0),
        ("linear_weight", 1.0),
        ("cascade_below", -0.1),
        ("decode_trigger", 11.0),
        ("decode_join_triggers", "yes"),
        ("decode_join_mentions", 1),
        ("event_cascade_below", 1.0),
        ("event_cascade_below", True),
    ],
)
def test_config_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TransformerConfig(**{field: value})  # type: ignore[arg-type]


def test_config_round_trips_through_dict() -> None:
    config = TransformerConfig(context="headline", epochs=2, quantize="none")
    assert TransformerConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config


def test_build_pairs_gives_each_context() -> None:
    docs = [["Head", "First", "Second"], ["Solo"]]
    assert build_pairs(docs, "none") == [("Head", None), ("First", None), ("Second", None), ("Solo", None)]
    assert [c for _, c in build_pairs(docs, "headline")] == ["", "Head", "Head", ""]
    assert [c for _, c in build_pairs(docs, "neighbours")] == ["First", "Head … Second", "First", ""]
    assert [c for _, c in build_pairs(docs, "headline+neighbours")] == ["First", "Head … Second", "Head … First", ""]
    with pytest.raises(ValueError, match="unknown context"):
        build_pairs(docs, "everything")


def test_length_batches_cover_every_index_once_sorted_by_length() -> None:
    lengths = [5, 1, 9, 3, 7, 2, 8]
    batches = length_batches(lengths, 3)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert all(len(b) <= 3 for b in batches)


def test_pad_batch_masks_padding() -> None:
    arrays = pad_batch([([2, 7, 3], [0, 0, 0]), ([2, 3], [0, 1])])
    assert arrays["input_ids"].tolist() == [[2, 7, 3], [2, 3, 0]]
    assert arrays["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert arrays["token_type_ids"].tolist() == [[0, 0, 0], [0, 1, 0]]


def test_untrained_model_refuses_to_predict_or_save(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="not trained"):
        TransformerModel().predict_proba([["A sentence."]])
    with pytest.raises(RuntimeError, match="untrained"):
        TransformerModel().save(tmp_path / "m")


# -- the model contract on the tiny encoder ------------------------------------------------------------
@pytest.mark.slow
def test_fit_predict_save_load_gives_identical_predictions(fitted: TransformerModel, tmp_path: Path) -> None:
    docs = make_documents(5, seed=9)
    probs = fitted.predict_proba(docs)
    assert probs.shape == (sum(len(d.sentences) for d in docs), 5)
    assert np.all((probs >= 0) & (probs <= 1))
    fitted.tune_thresholds(make_documents(4, seed=2))
    saved = fitted.save(tmp_path / "model")
    assert {"model.onnx", "tokenizer.json"} <= set(json.loads((saved / "manifest.json").read_text()))
    loaded = TransformerModel.load(saved)
    assert loaded.config == fitted.config
    np.testing.assert_array_equal(loaded.predict_proba(docs), probs)
    assert loaded.predict(docs) == fitted.predict(docs)
    assert "Context read with each sentence: `headline+neighbours`" in (saved / "README.md").read_text()


@pytest.mark.slow
def test_same_seed_gives_same_model(tiny_base: Path, fitted: TransformerModel) -> None:
    again = TransformerModel(tiny_config(tiny_base)).fit(make_documents(16, seed=1), make_documents(4, seed=2))
    docs = make_documents(3, seed=4)
    np.testing.assert_array_equal(again.predict_proba(docs), fitted.predict_proba(docs))


@pytest.mark.slow
def test_onnx_matches_torch(fitted: TransformerModel) -> None:
    """fp32 ONNX within 1e-4 of torch; static int8 within 0.05 of fp32; dynamic int8 within 0.02 on average.

    Dynamic int8's largest gap on this tiny random encoder ranged from 0.002 to 0.051 between otherwise
    identical runs, so it is bounded on average and loosely at the maximum. Its mean gap was up to 0.005
    with scaled-dot-product attention in the graph and 0.012 with the eager attention exported now (the
    shipped network's dynamic int8 copy: 0.010 over dev, ``benchmarks/quantization_fidelity.py --dynamic``).
    """
    from threatevents.models.onnx_runtime import OnnxClassifier
    from threatevents.models.transformer_training import predict_torch, quantize_onnx

    docs = make_documents(6, seed=7)
    cfg = fitted.config
    fp32 = OnnxClassifier(fitted.fp32_onnx, fitted._tokenizer_json, max_length=cfg.max_length, context=cfg.context)
    fp32_probs = fp32.predict_proba([d.texts for d in docs])
    assert fitted.torch_net is not None
    encoded = encode_documents(fp32.tokenizer, [d.texts for d in docs], cfg.context)
    torch_probs = predict_torch(fitted.torch_net, encoded)
    assert np.abs(torch_probs - fp32_probs).max() < 1e-4
    assert cfg.quantize == "static"
    assert np.abs(fitted.predict_proba(docs) - fp32_probs).max() < 0.05
    dynamic = OnnxClassifier(
        quantize_onnx(fitted.fp32_onnx), fitted._tokenizer_json, max_length=cfg.max_length, context=cfg.context
    )
    gap = np.abs(dynamic.predict_proba([d.texts for d in docs]) - fp32_probs)
    assert gap.mean() < 0.02 and gap.max() < 0.1


def test_export_traces_eager_attention_and_restores_the_network(fitted: TransformerModel) -> None:
    """The graph has the eager softmax, not the scaled-dot-product path's NaN guard; the network keeps its setting."""
    import onnx

    from threatevents.models.onnx_runtime import encode_pairs, load_tokenizer
    from threatevents.models.transformer_training import export_onnx

    assert fitted.torch_net is not None
    config = fitted.torch_net.encoder.config
    before = config._attn_implementation
    tokenizer = load_tokenizer(fitted._tokenizer_json, fitted.config.max_length)
    example = encode_pairs(tokenizer, [("a sentence long enough to trace", None)])[0]
    ops = {node.op_type for node in onnx.load_from_string(export_onnx(fitted.torch_net, example)).graph.node}
    assert "Softmax" in ops and "IsNaN" not in ops
    assert config._attn_implementation == before


def test_quantisation_keeps_excluded_matrix_products_in_fp32(fitted: TransformerModel) -> None:
    """Nodes named in ``exclude`` stay float MatMuls; every other MatMul becomes an int8 one."""
    import onnx

    from threatevents.models.onnx_runtime import load_tokenizer
    from threatevents.models.transformer_training import quantize_onnx

    def matmuls(graph: bytes) -> dict[str, str]:
        return {n.name: n.op_type for n in onnx.load_from_string(graph).graph.node if "MatMul" in n.op_type}

    cfg = fitted.config
    tokenizer = load_tokenizer(fitted._tokenizer_json, cfg.max_length)
    calibration = encode_documents(tokenizer, [d.texts for d in make_documents(4, seed=3)], cfg.context)
    before = matmuls(fitted.fp32_onnx)
    kept = sorted(name for name in before if name.endswith("/output/dense/MatMul"))
    assert kept
    after = matmuls(quantize_onnx(fitted.fp32_onnx, calibration=calibration, exclude=kept))
    assert sorted(name for name, op in after.items() if op == "MatMul") == kept
    assert any(op != "MatMul" for op in after.values())  # the rest became quantised products


def test_reduced_range_quantisation_stores_seven_bit_weights(fitted: TransformerModel) -> None:
    """``reduce_range`` keeps every int8 weight within 7 bits (|w| <= 64, symmetric); full range goes past that."""
    import onnx
    from onnx import numpy_helper

    from threatevents.models.onnx_runtime import OnnxClassifier
    from threatevents.models.transformer_training import quantize_onnx

    def int8_weights(graph: bytes) -> np.ndarray:
        tensors = [numpy_helper.to_array(t) for t in onnx.load_from_string(graph).graph.initializer]
        return np.concatenate([t.ravel() for t in tensors if t.dtype == np.int8])

    full, reduced = quantize_onnx(fitted.fp32_onnx), quantize_onnx(fitted.fp32_onnx, reduce_range=True)
    assert np.abs(int8_weights(full).astype(int)).max() > 64
    weights = int8_weights(reduced)
    assert weights.size and np.abs(weights.astype(int)).max() <= 64
    cfg = fitted.config
    docs = [d.texts for d in make_documents(4, seed=5)]
    fp32 = OnnxClassifier(fitted.fp32_onnx, fitted._tokenizer_json, max_length=cfg.max_length, context=cfg.context)
    served = OnnxClassifier(reduced, fitted._tokenizer_json, max_length=cfg.max_length, context=cfg.context)
    assert np.abs(served.predict_proba(docs) - fp32.predict_proba(docs)).mean() < 0.05


def test_config_accepts_reduced_range_dynamic_quantisation() -> None:
    TransformerConfig(quantize="dynamic-reduced").validate()
    with pytest.raises(ValueError, match="quantize must be one of"):
        TransformerConfig(quantize="int4").validate()


def test_static_quantisation_scores_a_sentence_the_same_in_any_batch(fitted: TransformerModel) -> None:
    """Each document alone gives the same scores as all of them in shared, differently padded batches."""
    docs = make_documents(5, seed=12)
    per_document = np.vstack([fitted.predict_proba([doc]) for doc in docs])
    np.testing.assert_allclose(per_document, fitted.predict_proba(docs), atol=1e-5)


def _tag_without_torch(model_dir: Path) -> list[dict[str, object]]:
    line = run_without_training_libraries(f"""
        import json
        from threatevents.models.transformer import TransformerModel
        model = TransformerModel.load({str(model_dir)!r})
        records = model.tag("Hackers stole customer records. The vendor released a patch for the flaw.")
        assert not [m for m in ("torch", "transformers", "sklearn") if m in sys.modules]
        print(json.dumps(records))
    """)
    return json.loads(line)


@pytest.mark.slow
def test_saved_model_tags_without_torch(fitted: TransformerModel, tmp_path: Path) -> None:
    records = _tag_without_torch(fitted.save(tmp_path / "model"))
    assert [r["index"] for r in records] == [0, 1]
    assert all(set(r["scores"]) >= {"AttackDatabreach", "O"} for r in records)


@pytest.mark.slow
def test_shipped_default_tags_without_torch() -> None:
    if not (SHIPPED / "manifest.json").is_file():
        pytest.skip("no shipped default model in this checkout")
    records = _tag_without_torch(SHIPPED)
    assert records[0]["labels"] != ["O"] or records[1]["labels"] != ["O"]


@pytest.mark.slow
def test_shipped_events_model_extracts_events_without_torch() -> None:
    """The shipped ``events`` model finds events in plain attack and patch sentences, in document offsets,
    with onnxruntime only."""
    folder = SHIPPED.parent / "events"
    if not (folder / "manifest.json").is_file():
        pytest.skip("no shipped events model in this checkout")
    text = (
        "Hackers encrypted the servers of Acme Corp and demanded a ransom of 50 bitcoin. "
        "Microsoft released a patch for the CVE-2024-1234 vulnerability in Exchange."
    )
    line = run_without_training_libraries(f"""
        import json
        from threatevents.models import load_model
        model = load_model("events")
        records = model.tag({text!r})
        assert not [m for m in ("torch", "transformers", "sklearn") if m in sys.modules]
        print(json.dumps(records))
    """)
    records = json.loads(line)
    events = [e for r in records for e in r["events"]]
    assert {e["type"] for e in events} >= {"AttackRansom", "PatchVulnerability"}
    for event in events:
        for span in (event["trigger"], *event["arguments"]):
            assert text[span["start"] : span["end"]] == span["text"]


# -- trigger supervision from the CASIE annotation ----------------------------------------------------
def test_trigger_targets_mark_tokens_overlapping_a_trigger() -> None:
    pytest.importorskip("torch")
    from threatevents.labels import EVENT_LABELS
    from threatevents.models.transformer_training import trigger_targets

    offsets = [(0, 0), (0, 7), (8, 17), (18, 21), (21, 22), (0, 0)]  # [CLS] Hackers encrypted files . [SEP]
    targets = trigger_targets(offsets, [(8, 21, "AttackRansom")])
    ransom = EVENT_LABELS.index("AttackRansom")
    assert targets.shape == (6, len(EVENT_LABELS))
    assert targets[:, ransom].tolist() == [0, 0, 1, 1, 0, 0]
    assert targets.sum() == 2


def test_fit_with_trigger_annotation_changes_training_not_the_graph(
    tiny_base: Path, fitted: TransformerModel, tmp_path: Path
) -> None:
    from threatevents.casie import CASIE_TYPES

    kinds = {label: kind for kind, label in CASIE_TYPES.items()}
    train = make_documents(16, seed=1)
    folder = tmp_path / "annotation"
    folder.mkdir()
    for doc in train:  # the second word of each single-event sentence is its trigger
        content, events = "", []
        for sentence in doc.sentences:
            start = len(content)
            content += sentence.text + " "
            if len(sentence.labels) == 1 and sentence.labels[0] != "O":
                word = sentence.text.split()[1]
                at = start + sentence.text.index(word)
                kind, subtype = kinds[sentence.labels[0]]
                nugget = {"startOffset": at, "endOffset": at + len(word), "text": word}
                events.append({"type": kind, "subtype": subtype, "realis": "Actual", "nugget": nugget})
        data = {"content": content, "cyberevent": {"hopper": [{"events": events}]}}
        (folder / f"{doc.id}.json").write_text(json.dumps(data), encoding="utf-8")
    model = TransformerModel(tiny_config(tiny_base, events_dir=str(tmp_path))).fit(train, make_documents(4, seed=2))
    assert model.metrics["training"]["trigger_sentences"] > 0
    docs = make_documents(3, seed=9)
    probs = model.predict_proba(docs)
    assert probs.shape == fitted.predict_proba(docs).shape
    assert not np.allclose(probs, fitted.predict_proba(docs))  # the trigger loss moved the weights
    reloaded = TransformerModel.load(model.save(tmp_path / "model"))
    assert reloaded.config.events_dir == str(tmp_path)
    np.testing.assert_allclose(reloaded.predict_proba(docs), probs, atol=1e-6)


def test_linear_companion_is_tuned_saved_and_reloaded(tiny_base: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_base, context="none", linear_weight=None, cascade_below=None)
    model = TransformerModel(config).fit(make_documents(16, seed=1), make_documents(6, seed=2))
    assert model.linear is not None
    assert model.config.linear_weight is not None and model.config.cascade_below is not None  # chosen on dev
    assert set(model.metrics["blend"]) >= {"weight", "cut", "dev_skipped", "weight_scores"}
    path = model.save(tmp_path / "blend")
    assert (path / "linear" / "coef.npy").is_file()
    docs = make_documents(3, seed=9)
    reloaded = TransformerModel.load(path)
    assert reloaded.linear is not None
    np.testing.assert_allclose(reloaded.predict_proba(docs), model.predict_proba(docs), atol=1e-6)


def test_linear_companion_missing_from_the_directory_is_refused(tiny_base: Path, tmp_path: Path) -> None:
    import shutil

    from threatevents.models.base import ModelLoadError, write_manifest

    config = tiny_config(tiny_base, context="none", linear_weight=0.3, cascade_below=0.0)
    path = TransformerModel(config).fit(make_documents(8, seed=1)).save(tmp_path / "m")
    shutil.rmtree(path / "linear")
    write_manifest(path)
    with pytest.raises(ModelLoadError, match="linear/ is missing"):
        TransformerModel.load(path)


@pytest.mark.slow
def test_mean_plus_max_pooling_is_exported_and_checkpointed(tiny_base: Path, tmp_path: Path) -> None:
    """Under mean+max the token head is part of the graph: ONNX matches torch, and the torch checkpoint keeps it."""
    from threatevents.models.onnx_runtime import OnnxClassifier
    from threatevents.models.transformer_training import load_torch_checkpoint, predict_torch, save_torch_checkpoint

    model = TransformerModel(tiny_config(tiny_base, pooling="mean+max", quantize="none")).fit(
        make_documents(16, seed=1)
    )
    assert model.torch_net is not None and model.torch_net.token_head is not None
    docs = make_documents(4, seed=7)
    cfg = model.config
    runtime = OnnxClassifier(model.fp32_onnx, model._tokenizer_json, max_length=cfg.max_length, context=cfg.context)
    encoded = encode_documents(runtime.tokenizer, [d.texts for d in docs], cfg.context)
    torch_probs = predict_torch(model.torch_net, encoded)
    assert np.abs(torch_probs - model.predict_proba(docs)).max() < 1e-4
    save_torch_checkpoint(model.torch_net, tmp_path / "ckpt", model._tokenizer_json, {"context": cfg.context})
    net, _, settings = load_torch_checkpoint(tmp_path / "ckpt")
    assert settings["pooling"] == "mean+max"
    np.testing.assert_allclose(predict_torch(net, encoded), torch_probs, atol=1e-6)
    # the token head changes the output: the same weights under mean pooling score differently
    net.pooling = "mean"
    assert np.abs(predict_torch(net, encoded) - torch_probs).max() > 1e-4


def test_fit_leaves_torch_settings_as_it_found_them(tiny_base: Path) -> None:
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        TransformerModel(tiny_config(tiny_base, context="none")).fit(make_documents(4, seed=1))
        assert torch.get_num_threads() == 1
        assert not torch.are_deterministic_algorithms_enabled()
    finally:
        torch.set_num_threads(threads)


def test_card_lists_each_compared_run_even_when_runs_share_a_context(fitted: TransformerModel) -> None:
    scores = {"weighted_f1": 0.8, "events_macro_f1": 0.7}
    run = {"max_length": 64, "fp32": scores, "int8": scores}
    fitted.metrics["context_dev"] = {"tf-a": {"context": "none", **run}, "tf-b": {"context": "none", **run}}
    try:
        card = fitted.card_details()
        assert "Context `none` (run `tf-a`, max 64 tokens)" in card
        assert "Context `none` (run `tf-b`, max 64 tokens)" in card
    finally:
        del fitted.metrics["context_dev"]
