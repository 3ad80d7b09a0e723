"""Sentence- and document-level metrics against small hand-computed examples, JSON and terminal output."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

import threatevents
from conftest import KeywordModel
from threatevents.corpus import Document, Sentence
from threatevents.evaluate import EvaluationResult, evaluate_model, evaluate_predictions, result_from_dict
from threatevents.labels import ALL_LABELS, EVENT_LABELS, LabelError
from threatevents.metrics import headline_scores
from threatevents.models.base import flatten_labels
from threatevents.report import render_table, write_json, write_report

RANSOM, PHISH, DISCOVER, PATCH = "AttackRansom", "AttackPhishing", "DiscoverVulnerability", "PatchVulnerability"

# Two articles, five sentences: (gold, predicted) per sentence. The expected numbers below were worked
# out by hand from these pairs (see the comments next to each).
DOC_A = [((RANSOM,), (RANSOM,)), (("O",), (RANSOM,)), ((DISCOVER, PATCH), (DISCOVER,))]
DOC_B = [(("O",), ("O",)), ((PHISH,), ("O",))]


def _docs(*pairs_per_doc: list[tuple[tuple[str, ...], tuple[str, ...]]]) -> tuple[list[Document], list]:
    docs = [
        Document(f"d{i}", [Sentence(f"sentence {i}.{j}", gold) for j, (gold, _) in enumerate(pairs)])
        for i, pairs in enumerate(pairs_per_doc)
    ]
    predicted = [pred for pairs in pairs_per_doc for _, pred in pairs]
    return docs, predicted


@pytest.fixture()
def result() -> EvaluationResult:
    docs, predicted = _docs(DOC_A, DOC_B)
    return evaluate_predictions(docs, predicted, model="hand", split="toy")


def test_per_label_scores_match_hand_computation(result: EvaluationResult) -> None:
    expected = {  # (precision, recall, f1, support)
        "AttackDatabreach": (0, 0, 0, 0),  # never occurs, never predicted
        PHISH: (0, 0, 0, 1),  # missed, never predicted
        RANSOM: (1 / 2, 1, 2 / 3, 1),  # predicted twice, right once
        DISCOVER: (1, 1, 1, 1),
        PATCH: (0, 0, 0, 1),
        "O": (1 / 2, 1 / 2, 1 / 2, 2),  # gold O at s2, s4; predicted O at s4, s5
    }
    assert list(result.per_label) == list(ALL_LABELS)
    for name, (p, r, f, s) in expected.items():
        got = result.per_label[name]
        assert (got.precision, got.recall, got.f1, got.support) == pytest.approx((p, r, f, s)), name


def test_averages_match_hand_computation(result: EvaluationResult) -> None:
    micro = result.averages["micro"]  # TP 3, predicted 5, gold 6
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx((3 / 5, 1 / 2, 6 / 11))
    assert result.averages["macro"].f1 == pytest.approx((2 / 3 + 1 + 1 / 2) / 6)
    assert result.averages["macro"].recall == pytest.approx((1 + 1 + 1 / 2) / 6)
    assert result.averages["weighted"].f1 == pytest.approx((2 / 3 + 1 + 2 * 1 / 2) / 6)
    assert result.averages["samples"].f1 == pytest.approx((1 + 0 + 2 / 3 + 1 + 0) / 5)
    assert result.exact_match == pytest.approx(2 / 5)
    events = result.event_averages["micro"]  # events only: TP 2, predicted 3, gold 4
    assert (events.precision, events.recall, events.f1) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert result.event_averages["macro"].f1 == pytest.approx((2 / 3 + 1) / 5)
    assert result.averages["micro"].support == 6 and result.event_averages["micro"].support == 4


def test_o_column_is_derived_from_the_event_labels(result: EvaluationResult) -> None:
    o = ALL_LABELS.index("O")
    assert result.y_true[:, o].tolist() == [0, 1, 0, 1, 0]
    assert result.y_pred[:, o].tolist() == [0, 0, 0, 1, 1]
    assert (result.y_true.sum(axis=1) >= 1).all()
    docs, _ = _docs(DOC_B)
    empty_tuple = evaluate_predictions(docs, [(), ("O",)])  # an empty prediction means O
    assert empty_tuple.y_pred[:, o].tolist() == [1, 1]


@pytest.mark.parametrize("bad", [("O", RANSOM), ("Malware",)])
def test_invalid_predicted_labels_are_refused(bad: tuple[str, ...]) -> None:
    docs, predicted = _docs(DOC_B)
    with pytest.raises(LabelError):
        evaluate_predictions(docs, [bad, predicted[1]])


def test_document_label_sets_are_unions_with_o_for_no_event(result: EvaluationResult) -> None:
    def row(*labels: str) -> list[int]:
        return [int(name in labels) for name in ALL_LABELS]

    assert result.doc_ids == ["d0", "d1"]
    assert result.doc_true.tolist() == [row(RANSOM, DISCOVER, PATCH), row(PHISH)]
    assert result.doc_pred.tolist() == [row(RANSOM, DISCOVER), row("O")]
    micro = result.doc_averages["micro"]  # TP 2, predicted 3, gold 4
    assert (micro.precision, micro.recall, micro.f1) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    # Only Phishing, Ransom, Discover and Patch occur in the gold articles: the macro average is over those four.
    assert result.doc_averages["macro"].f1 == pytest.approx(2 / 4)
    assert result.doc_per_label["O"].support == 0 and result.doc_per_label[RANSOM].f1 == 1.0


def test_document_without_sentences_or_events_counts_as_o() -> None:
    docs, predicted = _docs([(("O",), ("O",))], [], [((RANSOM,), (RANSOM,))])
    result = evaluate_predictions(docs, predicted)
    o = ALL_LABELS.index("O")
    assert result.doc_true[:, o].tolist() == [1, 1, 0]
    assert result.doc_per_label["O"].f1 == 1.0
    assert result.doc_averages["macro"].f1 == 1.0  # labels no article has do not drag the macro average down


def test_spurious_document_o_costs_micro_precision_not_macro() -> None:
    docs, predicted = _docs([((RANSOM,), (RANSOM,))], [((PHISH,), ("O",)), ((PHISH,), (PHISH,))])
    result = evaluate_predictions(docs, predicted)
    assert result.doc_pred[:, ALL_LABELS.index("O")].tolist() == [0, 0]  # one phishing sentence found is enough
    docs, predicted = _docs([((RANSOM,), (RANSOM,))], [((PHISH,), ("O",))])
    result = evaluate_predictions(docs, predicted)
    assert result.doc_averages["macro"].f1 == pytest.approx(1 / 2)  # Ransom 1, Phishing 0; O has no gold article
    assert result.doc_averages["micro"].precision == pytest.approx(1 / 2)  # the predicted O counts as wrong


def test_label_that_never_occurs_scores_zero_without_warnings() -> None:
    docs, predicted = _docs([(("O",), ("O",)), ((RANSOM,), ("O",))])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = evaluate_predictions(docs, predicted)
    for name in ("AttackDatabreach", PHISH, DISCOVER, PATCH, RANSOM):
        assert result.per_label[name].f1 == 0.0
    assert result.per_label["O"].precision == pytest.approx(1 / 2)
    assert result.event_averages["micro"].f1 == 0.0


def test_mismatched_counts_and_shapes_are_errors() -> None:
    docs, predicted = _docs(DOC_A)
    with pytest.raises(ValueError, match="2 predictions for 3 sentences"):
        evaluate_predictions(docs, predicted[:2])
    with pytest.raises(ValueError, match="shape"):
        evaluate_predictions(docs, predicted, probs=np.zeros((3, 6)))
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate_predictions([Document("empty", [])], [])


def test_cooccurrence_counts_and_row_normalisation(result: EvaluationResult) -> None:
    i = {name: j for j, name in enumerate(ALL_LABELS)}
    counts = result.cooccurrence(normalise=False)
    assert counts[i["O"], i[RANSOM]] == 1 and counts[i[PATCH], i[DISCOVER]] == 1 and counts[i[PHISH], i["O"]] == 1
    assert counts.sum() == int((result.y_true.sum(axis=1) * result.y_pred.sum(axis=1)).sum())
    share = result.cooccurrence()
    assert share[i["O"]].tolist() == pytest.approx([0, 0, 0.5, 0, 0, 0.5])
    assert share[i["AttackDatabreach"]].tolist() == [0.0] * 6  # no support: a zero row, not NaN


REQUIRED_KEYS = {
    "weighted_f1",
    "micro_f1",
    "macro_f1",
    "samples_f1",
    "events_micro_f1",
    "events_macro_f1",
    "exact_match",
    "doc_micro_f1",
    "doc_macro_f1",
    "n_documents",
    "n_sentences",
    "per_label",
}


def test_to_dict_has_the_agreed_keys_and_plain_types(result: EvaluationResult, tmp_path: Path) -> None:
    data = result.to_dict()
    assert set(data) >= REQUIRED_KEYS
    assert (data["n_documents"], data["n_sentences"], data["model"], data["split"]) == (2, 5, "hand", "toy")
    assert data["micro_f1"] == pytest.approx(6 / 11) and data["doc_macro_f1"] == pytest.approx(2 / 4)
    assert set(data["per_label"]) == set(ALL_LABELS)
    assert set(data["per_label"][RANSOM]) == {"precision", "recall", "f1", "support"}
    assert all(type(data[k]) is float for k in REQUIRED_KEYS - {"n_documents", "n_sentences", "per_label"})
    assert type(data["per_label"][RANSOM]["support"]) is int
    path = write_json(result, tmp_path / "out" / "metrics.json")
    assert json.loads(path.read_text(encoding="utf-8")) == data


def test_render_table_shows_labels_averages_and_documents(result: EvaluationResult) -> None:
    console = Console(record=True, width=140)
    console.print(render_table(result))
    text = console.export_text()
    for expected in (
        *ALL_LABELS,
        "micro avg",
        "samples avg",
        "events macro avg",
        "Documents",
        "hand on toy",
        f"{6 / 11:.3f}",
        "exact match",
        "0.400",
    ):
        assert expected in text
    assert text.index("PatchVulnerability") < text.index("micro avg") < text.index("Documents")


def test_render_table_title_overrides_model_and_split(result: EvaluationResult) -> None:
    console = Console(record=True, width=140)
    console.print(render_table(result, title="models/linear on corpus [dev]"))
    text = console.export_text()
    assert "models/linear on corpus [dev]" in text and "hand on toy" not in text


def test_result_from_dict_round_trips_the_numbers(result: EvaluationResult, tmp_path: Path) -> None:
    data = json.loads(json.dumps(result.to_dict()))
    back = result_from_dict(data)
    assert back.to_dict() == result.to_dict()
    assert back.per_label == result.per_label and back.doc_averages == result.doc_averages
    console = Console(record=True, width=140)
    console.print(render_table(back))
    assert f"{6 / 11:.3f}" in console.export_text()
    with pytest.raises(ValueError, match="JSON"):
        back.cooccurrence()
    with pytest.raises(ValueError, match="JSON"):
        write_report(back, tmp_path / "report")
    assert not (tmp_path / "report").exists()


def test_evaluate_model_predicts_once_and_keeps_probabilities() -> None:
    docs = [
        Document("a", [Sentence("ransom note", (RANSOM,)), Sentence("a flaw and a patch", (DISCOVER, PATCH))]),
        Document("b", [Sentence("weather", ("O",)), Sentence("phish bait", (PHISH,)), Sentence("ransom", ("O",))]),
    ]
    model = KeywordModel()
    result = evaluate_model(model, docs, split="toy")
    assert model.calls == 1
    assert result.probs is not None and result.probs.shape == (5, len(EVENT_LABELS))
    assert (result.model, result.split, result.n_documents) == ("keyword-test: not saved", "toy", 2)
    assert result.per_label[RANSOM].precision == pytest.approx(1 / 2)
    assert result.exact_match == pytest.approx(4 / 5)
    model.thresholds = np.full(len(EVENT_LABELS), 0.95)  # nothing passes: every sentence becomes O
    assert evaluate_model(model, docs).y_pred[:, ALL_LABELS.index("O")].tolist() == [1] * 5


def test_evaluate_model_says_what_it_ran_on_and_the_json_keeps_it() -> None:
    docs = [Document("a", [Sentence("ransom note", (RANSOM,)), Sentence("weather", ("O",))])]
    result = evaluate_model(KeywordModel(), docs)
    assert result.environment is not None
    assert result.environment["packages"]["threatevents"] == threatevents.__version__
    data = json.loads(json.dumps(result.to_dict()))
    assert data["environment"] == result.environment
    assert result_from_dict(data).environment == result.environment
    assert "environment" not in evaluate_predictions(docs, [(RANSOM,), ("O",)]).to_dict()  # no model was run


def test_results_name_the_model_by_kind_and_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from threatevents.models import load_model

    docs = [Document("a", [Sentence("ransom note", (RANSOM,))])]
    assert evaluate_model(load_model("linear"), docs).model == 'linear: shipped model "linear"'
    assert evaluate_model(load_model(), docs).model == 'transformer: shipped model "default"'
    model = KeywordModel()
    monkeypatch.chdir(tmp_path)
    model.path = tmp_path / "models" / "kw"
    assert evaluate_model(model, docs).model == "keyword-test: models/kw"
    model.path = Path("/elsewhere/kw")
    assert evaluate_model(model, docs, name="my model").model == "my model"
    assert evaluate_model(model, docs).model == "keyword-test: /elsewhere/kw"


@pytest.mark.slow
@pytest.mark.data
def test_all_o_baseline_on_real_dev_split(casie_dir: Path) -> None:
    from threatevents.corpus import read_corpus

    dev = read_corpus(casie_dir).split("dev")
    n = sum(len(doc.sentences) for doc in dev)
    result = evaluate_predictions(dev, [("O",)] * n, split="dev")
    gold = flatten_labels(dev)
    assert result.n_sentences == n and result.n_documents == len(dev)
    assert result.per_label["O"].recall == 1.0
    assert result.event_averages["micro"].f1 == 0.0
    assert result.exact_match == pytest.approx(float((gold.sum(axis=1) == 0).mean()))


def test_headline_scores_match_the_full_result(result: EvaluationResult) -> None:
    from threatevents.labels import events_to_matrix

    docs, predicted = _docs(DOC_A, DOC_B)
    quick = headline_scores(flatten_labels(docs), events_to_matrix(predicted))
    assert quick == pytest.approx(
        {"weighted_f1": result.to_dict()["weighted_f1"], "events_macro_f1": result.to_dict()["events_macro_f1"]}
    )
