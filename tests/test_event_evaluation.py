"""Event scores through ``evaluate --events-dir`` and ``events-score``: placing a model's events in the article,
the no-extractor case, gold against gold and against a perturbed copy (figures worked out in the comments)."""

from __future__ import annotations

import copy
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA
from threatevents.cli import app
from threatevents.corpus import Corpus, Document, Sentence, write_corpus
from threatevents.event_evaluation import evaluate_events, place_events
from threatevents.event_metrics import NO_EXTRACTOR_NOTE
from threatevents.events import Argument, Event, Span
from threatevents.models.base import DocLike, EventModel, ModelConfig

runner = CliRunner()

A1 = "Intro line.\nHackers stole the data of Acme. Crooks phished staff.\nAcme  patched the flaw\non Monday."
A2 = "Ransomware hit Acme and encrypted its files. A fix shipped."
# the corpus has a1 without its intro and its phishing sentence, and a second sentence whose whitespace differs
S1 = ["Hackers stole the data of Acme.", "Acme patched the flaw on Monday."]  # S1[1] starts at 32 when joined


def _span(content: str, text: str, nth: int = 0) -> dict[str, Any]:
    at = -1
    for _ in range(nth + 1):
        at = content.index(text, at + 1)
    return {"startOffset": at, "endOffset": at + len(text), "text": text}


def _event(
    content: str, n: int, subtype: str, trigger: str, args: list[tuple[str, str, int]], realis: str = "Actual"
) -> dict[str, Any]:
    kind = "Attack" if subtype in ("Databreach", "Phishing", "Ransom") else "Vulnerability-related"
    out = {"index": f"E{n}", "type": kind, "subtype": subtype, "realis": realis, "nugget": _span(content, trigger)}
    out["argument"] = [_span(content, text, nth) | {"role": {"type": role}} for role, text, nth in args]
    return out


def gold_files() -> dict[str, dict[str, Any]]:
    a1 = [
        _event(A1, 1, "Databreach", "stole", [("Attacker", "Hackers", 0), ("Victim", "Acme", 0)]),
        _event(A1, 2, "PatchVulnerability", "patched", [("Releaser", "Acme", 1), ("Time", "Monday", 0)]),
        _event(A1, 3, "Phishing", "phished", [("Victim", "staff", 0)], realis="Generic"),
    ]
    a2 = [
        _event(A2, 1, "Ransom", "hit", [("Tool", "Ransomware", 0), ("Victim", "Acme", 0)]),
        _event(A2, 2, "Ransom", "encrypted", [("Compromised-Data", "its files", 0)]),
        _event(A2, 3, "PatchVulnerability", "fix", []),
    ]
    return {
        "a1": {"content": A1, "cyberevent": {"hopper": [{"index": i, "events": [e]} for i, e in enumerate(a1)]}},
        "a2": {"content": A2, "cyberevent": {"hopper": [{"index": i, "events": [e]} for i, e in enumerate(a2)]}},
    }


def write_dir(folder: Path, files: dict[str, dict[str, Any]]) -> Path:
    (folder / "annotation").mkdir(parents=True)
    for doc_id, data in files.items():
        (folder / "annotation" / f"{doc_id}.json").write_text(json.dumps(data), encoding="utf-8")
    return folder


def ev(kind: str, trigger: tuple[int, int], *args: tuple[str, int, int], realis: str = "Actual") -> Event:
    arguments = [Argument(role, s, e, "") for role, s, e in args]
    return Event(kind, realis, Span(trigger[0], trigger[1], ""), arguments)


# predictions in the frame of S1 joined by "\n": "stole" 8-13, "Hackers" 0-7, "Acme" 26-30 | "Acme" 32-36,
# "patched" 37-44, "Monday" 57-63
PREDICTED_A1 = [
    ev("AttackDatabreach", (8, 13), ("Attacker", 0, 7), ("Victim", 26, 30)),
    ev("PatchVulnerability", (37, 44), ("Releaser", 32, 36), ("Time", 57, 63), realis="Other"),  # realis wrong
    ev("AttackRansom", (28, 36)),  # runs across two sentences: cannot be placed
]


class FakeExtractor(EventModel):
    """A model whose events are given; sentence labels all O."""

    kind: ClassVar[str] = "fake"
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    has_event_extractor: ClassVar[bool] = True

    def __init__(self, events: dict[str, list[Event]]) -> None:
        super().__init__()
        self.events = events

    def fit(self, train: Sequence[Document], dev: Sequence[Document] | None = None) -> Self:
        return self

    def predict_proba(self, docs: Sequence[DocLike]) -> np.ndarray:
        return np.zeros((sum(len(d.texts) if isinstance(d, Document) else len(d) for d in docs), 5))

    def predict_events(self, docs: Sequence[DocLike]) -> list[list[Event]]:
        return [copy.deepcopy(self.events.get(d.id, [])) if isinstance(d, Document) else [] for d in docs]

    def _save_weights(self, path: Path) -> None: ...

    def _load_weights(self, path: Path) -> None: ...


def corpus_docs() -> list[Document]:
    return [
        Document("a1", [Sentence(S1[0], ("AttackDatabreach",)), Sentence(S1[1], ("PatchVulnerability",))]),
        Document("nofile", [Sentence("Nothing annotated here.", ("O",))]),
    ]


def test_place_events_carries_spans_into_the_article() -> None:
    placed, lost_events, lost_arguments = place_events(PREDICTED_A1, S1, A1)
    assert (lost_events, lost_arguments) == (1, 0)
    spans = [(e.trigger.text, [(a.role, A1[: a.start].count("Acme"), a.text) for a in e.arguments]) for e in placed]
    # the second "Acme" (the Releaser) is found inside its sentence, where whitespace differs from the corpus
    assert spans == [
        ("stole", [("Attacker", 0, "Hackers"), ("Victim", 0, "Acme")]),
        ("patched", [("Releaser", 1, "Acme"), ("Time", 2, "Monday")]),
    ]
    assert all(A1[s.start : s.end] == s.text for e in placed for s in [e.trigger, *e.arguments])


def test_char_map_carries_offsets_across_whitespace_runs() -> None:
    from threatevents.casie import char_map

    a, b = "Acme patched the flaw on Monday.", "Acme  patched the flaw\non Monday."
    mapping = char_map(a, b)
    assert mapping is not None and len(mapping) == len(a) + 1
    assert b[mapping[5] : mapping[11] + 1] == "patched" and b[mapping[25] : mapping[30] + 1] == "Monday"
    assert char_map(" x  y", "x y") == [0, 0, 1, 1, 2, 3]  # leading whitespace maps to where b starts
    assert char_map("Acme patched", "Acme fixed") is None


def test_events_in_sentences_and_back(tmp_path: Path) -> None:
    from threatevents.event_evaluation import events_in_sentences
    from threatevents.events import join_sentences, read_event_file

    write_dir(tmp_path / "casie", gold_files())
    article = read_event_file(tmp_path / "casie" / "annotation" / "a1.json", strict=True)
    inside, lost_events, lost_arguments = events_in_sentences(article.events, S1, A1)
    assert (lost_events, lost_arguments) == (1, 0)  # "phished" sits in a sentence the corpus left out
    joined = join_sentences(S1)[0]
    # the same offsets as PREDICTED_A1, worked out by hand above
    assert [(e.trigger.start, e.trigger.end) for e in inside] == [(8, 13), (37, 44)]
    assert [(a.start, a.end) for e in inside for a in e.arguments] == [(0, 7), (26, 30), (32, 36), (57, 63)]
    assert all(joined[s.start : s.end] == s.text for e in inside for s in [e.trigger, *e.arguments])
    back, _, _ = place_events(inside, S1, A1)
    assert back == article.events[:2]


def test_evaluate_events_with_an_extractor(tmp_path: Path) -> None:
    events_dir = write_dir(tmp_path / "casie", gold_files())
    scores, report = evaluate_events(FakeExtractor({"a1": PREDICTED_A1}), corpus_docs(), events_dir)
    assert report.documents == 1 and scores.documents == 1 and scores.missing_gold == 1  # "nofile"
    assert scores.unplaced_predictions == 1 and scores.note is None
    # triggers: gold stole, patched, phished (its sentence is not in the corpus: still counted, missed);
    # placed predictions stole, patched -> P 2/2, R 2/3, F1 0.8 (type right too)
    for metric in ("trigger_id", "trigger_cls"):
        assert (scores[metric].precision, scores[metric].recall, scores[metric].f1) == pytest.approx((1, 2 / 3, 0.8))
    # realis: 2 found, patched predicted Other for Actual -> 1/2
    assert scores.realis_accuracy == 0.5
    # arguments: gold 5 (Hackers, Acme, Acme, Monday, staff), predicted 4, all right -> P 1, R 4/5, F1 8/9
    for metric in ("argument_id", "argument_cls", "argument_attached_id", "argument_attached_cls"):
        assert (scores[metric].gold, scores[metric].pred, scores[metric].match) == (5, 4, 4)
        assert scores[metric].f1 == pytest.approx(8 / 9)


def test_a_model_without_extractor_scores_zero_with_a_note(tmp_path: Path) -> None:
    from threatevents.models import load_model

    events_dir = write_dir(tmp_path / "casie", gold_files())
    linear = load_model("linear")
    assert linear.predict_events([S1]) == [[]] and not linear.has_event_extractor
    assert linear.path is not None and "this model has no event extractor" in (linear.path / "README.md").read_text()
    scores, _ = evaluate_events(linear, corpus_docs(), events_dir)
    assert scores.note == NO_EXTRACTOR_NOTE
    assert scores["trigger_cls"].gold == 3 and scores["trigger_cls"].pred == 0 and scores["trigger_cls"].f1 == 0.0


def test_evaluate_cli_adds_event_scores(tmp_path: Path) -> None:
    events_dir = write_dir(tmp_path / "casie", gold_files())
    corpus = tmp_path / "corpus"
    write_corpus(Corpus({d.id: d for d in corpus_docs()}, None), corpus)
    out = tmp_path / "m.json"
    args = ["evaluate", str(corpus), "--model", "linear", "--events-dir", str(events_dir), "--json", str(out)]
    result = runner.invoke(app, [*args, "--report", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    assert "trigger_cls" in result.output and NO_EXTRACTOR_NOTE in result.output
    data = json.loads(out.read_text())
    assert data["trigger_cls_f1"] == 0.0 and data["argument_attached_cls_f1"] == 0.0 and data["realis_accuracy"] == 0.0
    assert data["events"]["note"] == NO_EXTRACTOR_NOTE and data["events"]["trigger_cls"]["gold"] == 3
    assert data["events"]["missing_gold"] == 1
    assert (tmp_path / "report" / "f1_by_role.png").is_file()
    assert NO_EXTRACTOR_NOTE in (tmp_path / "report" / "README.md").read_text()
    from threatevents.evaluate import result_from_dict

    assert result_from_dict(data).to_dict()["events"] == data["events"]


def test_evaluate_cli_with_a_missing_annotation_folder(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(Corpus({d.id: d for d in corpus_docs()}, None), corpus)
    args = ["evaluate", str(corpus), "--model", "linear", "--events-dir", str(tmp_path / "nope")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "nope" in result.output  # one line naming the folder
    assert "Traceback" not in result.output


# -- events-score ----------------------------------------------------------------------------------------------


def _score(tmp_path: Path, gold: Path, pred: Path, *extra: str) -> tuple[Any, dict[str, Any]]:
    out = tmp_path / "scores.json"
    result = runner.invoke(app, ["events-score", str(gold), str(pred), "--json", str(out), *extra])
    return result, json.loads(out.read_text()) if out.is_file() else {}


def test_events_score_help() -> None:
    result = runner.invoke(app, ["events-score", "--help"])
    assert result.exit_code == 0 and "gold_dir" in result.output.lower() and "--ids" in result.output


def test_gold_against_gold_scores_one(tmp_path: Path) -> None:
    gold = write_dir(tmp_path / "gold", gold_files())
    result, data = _score(tmp_path, gold, gold)
    assert result.exit_code == 0, result.output
    metrics = [
        "trigger_id",
        "trigger_cls",
        "argument_id",
        "argument_cls",
        "argument_attached_id",
        "argument_attached_cls",
    ]
    assert all(data[f"{m}_f1"] == 1.0 for m in metrics) and data["realis_accuracy"] == 1.0
    assert data["trigger_cls"]["gold"] == 6 and data["argument_attached_cls"]["gold"] == 8


def perturbed() -> dict[str, dict[str, Any]]:
    files = copy.deepcopy(gold_files())
    a1 = [h["events"][0] for h in files["a1"]["cyberevent"]["hopper"]]
    a1[1]["subtype"] = "DiscoverVulnerability"  # patched: right span, wrong type
    a2_hoppers = files["a2"]["cyberevent"]["hopper"]
    hit, encrypted = a2_hoppers[0]["events"][0], a2_hoppers[1]["events"][0]
    encrypted["argument"].append(hit["argument"].pop(1))  # Victim "Acme" attached to the wrong trigger
    hit["realis"] = "Generic"  # realis wrong
    del a2_hoppers[2]  # the patch "fix" not found
    return files


def test_gold_against_a_perturbed_copy(tmp_path: Path) -> None:
    gold = write_dir(tmp_path / "gold", gold_files())
    pred = write_dir(tmp_path / "pred", perturbed())
    result, data = _score(tmp_path, gold, pred)
    assert result.exit_code == 0, result.output

    def prf(metric: str) -> tuple[float, float, float]:
        return data[metric]["precision"], data[metric]["recall"], data[metric]["f1"]

    # trigger_id: gold 6, pred 5 (fix gone), all 5 spans right -> P 1, R 5/6, F1 10/11
    assert prf("trigger_id") == pytest.approx((1, 5 / 6, 10 / 11))
    # trigger_cls: patched has the wrong type -> match 4: P 4/5, R 4/6, F1 2*(4/5)(2/3)/(4/5+2/3) = 8/11
    assert prf("trigger_cls") == pytest.approx((4 / 5, 2 / 3, 8 / 11))
    # realis over the 4 found (stole, phished, hit, encrypted): hit is wrong -> 3/4
    assert data["realis_accuracy"] == pytest.approx(0.75)
    # argument_id/cls (type, span[, role]): gold 8, pred 8; patched's Releaser and Time now carry the wrong type
    # -> match 6: P = R = F1 = 6/8; the moved Victim keeps its type (Ransom) and span, so it still matches here
    assert prf("argument_id") == pytest.approx((0.75, 0.75, 0.75))
    assert prf("argument_cls") == pytest.approx((0.75, 0.75, 0.75))
    # attached (+ trigger span): the moved Victim now hangs on "encrypted" -> match 5: 5/8
    assert prf("argument_attached_id") == pytest.approx((0.625, 0.625, 0.625))
    assert prf("argument_attached_cls") == pytest.approx((0.625, 0.625, 0.625))
    # per role: Victim gold 3 (Acme in a1, staff, Acme in a2), pred 3, match 2 -> 2/3
    assert data["per_role"]["Victim"]["f1"] == pytest.approx(2 / 3)


def test_events_score_bad_input(tmp_path: Path) -> None:
    gold = write_dir(tmp_path / "gold", gold_files())
    result = runner.invoke(app, ["events-score", str(gold), str(tmp_path / "nope")])
    assert result.exit_code == 2 and "notafolder" in "".join(result.output.split())
    assert "Traceback" not in result.output
    pred = write_dir(tmp_path / "pred", perturbed())
    (pred / "annotation" / "a2.json").write_text('{"content": "Ransom', encoding="utf-8")
    result, data = _score(tmp_path, gold, pred)
    assert result.exit_code == 0 and "a2.json" in result.output and "1 unreadable" in result.output
    assert data["missing_predictions"] == 1 and data["trigger_cls"]["gold"] == 6  # a2's events all missed
    result, _ = _score(tmp_path, gold, pred, "--strict")
    unwrapped = "".join(result.output.split())  # the message is wrapped at the terminal width
    assert result.exit_code == 2 and "a2.json:brokenJSON" in unwrapped and "Traceback" not in result.output
    ids = tmp_path / "ids.txt"
    ids.write_text("\n\n", encoding="utf-8")
    result, _ = _score(tmp_path, gold, gold, "--ids", str(ids))
    assert result.exit_code == 2 and "listsnodocumentids" in "".join(result.output.split())


@pytest.mark.data
def test_real_annotation_against_itself_on_a_textee_split(tmp_path: Path) -> None:
    shared = SHARED_DATA
    split = shared / "textee-casie-splits" / "split1" / "test.txt"
    if not split.is_file() or not (shared / "casie-events").is_dir():
        pytest.skip(f"needs {split} and the CASIE annotation (../shared/data is absent)")
    events = str(shared / "casie-events")
    result, data = _score(tmp_path, Path(events), Path(events), "--ids", str(split))
    assert result.exit_code == 0, result.output
    n_ids = len([line for line in split.read_text().splitlines() if line.strip()])
    assert data["documents"] == n_ids and data["trigger_cls_f1"] == 1.0 and data["argument_attached_cls_f1"] == 1.0


@pytest.mark.data
def test_real_gold_events_round_trip_through_the_corpus_sentences(casie_dir: Path) -> None:
    """Gold events carried into the test split's sentences and placed back: nothing lands anywhere else
    (precision 1), and only events in sentences the corpus lacks or the aligner cannot find are lost."""
    from threatevents.corpus import read_corpus
    from threatevents.event_evaluation import events_in_sentences
    from threatevents.event_metrics import score_events
    from threatevents.events import read_event_dir

    events_dir = casie_dir.parent / "casie-events"
    if not events_dir.is_dir():
        pytest.skip(f"needs the CASIE event annotation at {events_dir}")
    docs = read_corpus(casie_dir).split("test")
    gold, _ = read_event_dir(events_dir, ids=[d.id for d in docs])
    placed = {}
    for doc in docs:
        inside, _, _ = events_in_sentences(gold[doc.id].events, doc.texts, gold[doc.id].text)
        placed[doc.id], lost, lost_arguments = place_events(inside, doc.texts, gold[doc.id].text)
        assert lost == lost_arguments == 0
    scores = score_events({i: d.events for i, d in gold.items()}, placed)
    for metric in ("trigger_cls", "argument_attached_cls"):
        assert scores[metric].precision == 1.0 and scores[metric].recall > 0.97  # 0.9815 and 0.9843 measured
    assert scores.realis_accuracy == 1.0
