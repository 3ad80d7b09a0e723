"""``benchmarks/textee_splits.py`` (training and scoring on TextEE's CASIE splits) and the recipe options it
shares with ``benchmarks/train_transformer.py``: split lists, aggregation, the published table, resuming."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from conftest import SHARED_DATA, benchmark_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TEXTEE_SPLITS = SHARED_DATA / "textee-casie-splits"


def _script(name: str) -> ModuleType:
    return benchmark_script(name)


@pytest.fixture(scope="module")
def tx() -> ModuleType:
    return _script("textee_splits")


def _write_split(folder: Path, train: str, dev: str, test: str) -> Path:
    folder.mkdir(parents=True)
    for part, text in (("train", train), ("dev", dev), ("test", test)):
        (folder / f"{part}.txt").write_text(text, encoding="utf-8")
    return folder


# -- split lists ------------------------------------------------------------------------------------------
def test_read_split_keeps_the_listed_ids_in_the_corpus_and_counts_the_others(tx: ModuleType, tmp_path: Path) -> None:
    folder = _write_split(tmp_path / "split1", "a\nb\n\nx1\na\n", "c\r\nx2\r\n", "  d  \ne\nx3\nx4\n")
    ids = tx.read_split(folder, {"a", "b", "c", "d", "e", "unused"})
    assert ids.present == {"train": ["a", "b"], "dev": ["c"], "test": ["d", "e"]}
    assert ids.missing == {"train": ["x1"], "dev": ["x2"], "test": ["x3", "x4"]}
    assert ids.missing_count == 4


def test_read_split_refuses_a_document_in_two_parts(tx: ModuleType, tmp_path: Path) -> None:
    folder = _write_split(tmp_path / "split1", "a\nb\n", "c\n", "b\n")
    with pytest.raises(tx.SplitError, match=r"'b' is in both train.txt and test.txt"):
        tx.read_split(folder, {"a", "b", "c"})


def test_read_split_names_a_missing_list(tx: ModuleType, tmp_path: Path) -> None:
    folder = _write_split(tmp_path / "split1", "a\n", "b\n", "c\n")
    (folder / "dev.txt").unlink()
    with pytest.raises(tx.SplitError, match=r"dev\.txt"):
        tx.read_split(folder, {"a", "b", "c"})


@pytest.mark.data
def test_the_real_splits_are_all_in_the_corpus(tx: ModuleType, casie_dir: Path) -> None:
    from threatevents.corpus import read_corpus

    if not TEXTEE_SPLITS.is_dir():
        pytest.skip(f"needs TextEE's splits at {TEXTEE_SPLITS} (../shared/data is absent)")
    documents = read_corpus(casie_dir).documents
    ids = tx.read_split(TEXTEE_SPLITS / "split1", documents)
    assert ids.missing_count == 0  # the README: the lists are restricted to the 900 documents
    assert {part: len(v) for part, v in ids.present.items()} == {"train": 631, "dev": 132, "test": 136}


# -- aggregation ------------------------------------------------------------------------------------------
def test_spread_is_the_mean_the_sample_std_and_the_range(tx: ModuleType) -> None:
    s = tx.spread([0.5, 0.7, 0.6])
    assert (s.n, s.low, s.high) == (3, 0.5, 0.7)
    assert s.mean == pytest.approx(0.6)
    assert s.std == pytest.approx(0.1)  # sqrt((0.01 + 0.01 + 0) / (3 - 1)), not the population 0.0816
    two = tx.spread([0.2, 0.4])
    assert two.std == pytest.approx(math.sqrt(0.02))  # sqrt((0.01 + 0.01) / 1)
    one = tx.spread([0.3])
    assert (one.mean, one.std, one.low, one.high) == (0.3, None, 0.3, 0.3)
    with pytest.raises(ValueError):
        tx.spread([])


def _result(split: int, trig: float, arg: float, setup: dict[str, Any] | None = None) -> dict[str, Any]:
    scores = {key: 0.0 for key in ("trigger_id_f1", "argument_id_f1", "argument_cls_f1", "argument_attached_id_f1")}
    scores |= {"trigger_cls_f1": trig, "argument_attached_cls_f1": arg, "realis_accuracy": 0.8}
    return {
        "split": split,
        "setup": setup or {"recipe": {"epochs": 3, "max_length": 96}, "limit_docs": None},
        "scores": scores,
        "documents": {"train": 10, "dev": 3, "test": 4},
        "missing_from_corpus": {"train": [], "dev": ["x"], "test": []},
    }


def test_aggregate_and_table_give_mean_std_and_range_over_splits(tx: ModuleType) -> None:
    results = {1: _result(1, 0.60, 0.40), 2: _result(2, 0.70, 0.46), 3: _result(3, 0.65, 0.43)}
    summary = tx.aggregate(list(results.values()))
    assert summary["trigger_cls_f1"].mean == pytest.approx(0.65)
    assert summary["trigger_cls_f1"].std == pytest.approx(0.05)
    assert summary["argument_attached_cls_f1"].std == pytest.approx(0.03)
    assert "sentence_weighted_f1" not in summary  # no result has it
    published = {"SystemX": {"trigger_cls_f1": 0.5, "argument_attached_cls_f1": 0.25}}
    table = tx.render_table(results, published)
    lines = table.splitlines()
    mean_row = next(line for line in lines if "mean ± sample std" in line)
    assert "| 1, 2, 3 |" in mean_row
    assert "65.0 ± 5.0 [60.0–70.0]" in mean_row and "43.0 ± 3.0 [40.0–46.0]" in mean_row
    assert "80.0 ± 0.0 [80.0–80.0]" in mean_row  # realis, the same in every split
    assert any(line.startswith("| threatevents | 2 | 0.0 | 70.0 |") for line in lines)
    system_row = next(line for line in lines if line.startswith("| SystemX"))
    assert "| 50.0 |" in system_row and "| 25.0 |" in system_row and "–" in system_row
    assert "Recipe: max_length=96, epochs=3" in table and "Approximate" in table
    assert "Warning" not in table
    assert "Split 1: 10 train / 3 dev / 4 test documents (1 listed ids not in the corpus)" in table


def test_table_warns_when_the_splits_were_made_differently(tx: ModuleType) -> None:
    other = {"recipe": {"epochs": 1, "max_length": 96}, "limit_docs": None}
    table = tx.render_table({1: _result(1, 0.6, 0.4), 2: _result(2, 0.6, 0.4, other)}, {})
    assert "not all made with the same setup" in table


def test_one_split_has_no_spread(tx: ModuleType) -> None:
    table = tx.render_table({2: _result(2, 0.6, 0.4)}, {})
    assert "60.0 ± n/a [60.0–60.0]" in table


# -- published figures ------------------------------------------------------------------------------------
def test_read_published_takes_the_system_table(tx: ModuleType, tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "Intro text | with a bar.\n\n"
        "| other | a |\n|---|---|\n| x | 1 |\n\n"
        "| system | Trig-I | Trig-C | Arg-I | Arg-C | Arg-I attached | Arg-C attached | extra |\n"
        "|---|---|---|---|---|---|---|---|\n"
        "| Alpha (big) | 10.0 | 20.5 | 30 | 40 | 50 | 60 | 99 |\n"
        "| Beta | 1 | n/a | 3 | 4 | 5 | 6 | 7 |\n"
        "\n| system | Trig-I |\n|---|---|\n| Gamma | 1 |\n",
        encoding="utf-8",
    )
    published = tx.read_published(readme)
    assert list(published) == ["Alpha (big)", "Beta"]  # the first system table only
    assert published["Alpha (big)"] == {
        "trigger_id_f1": 0.1,
        "trigger_cls_f1": 0.205,
        "argument_id_f1": 0.3,
        "argument_cls_f1": 0.4,
        "argument_attached_id_f1": 0.5,
        "argument_attached_cls_f1": 0.6,
    }
    assert "trigger_cls_f1" not in published["Beta"]  # not a number: left out
    assert tx.read_published(tmp_path / "absent.md") == {}


@pytest.mark.data
def test_read_published_reads_the_splits_readme(tx: ModuleType) -> None:
    if not (TEXTEE_SPLITS / "README.md").is_file():
        pytest.skip(f"needs TextEE's splits at {TEXTEE_SPLITS} (../shared/data is absent)")
    published = tx.read_published(TEXTEE_SPLITS / "README.md")
    tagprime = next(v for k, v in published.items() if k.startswith("TagPrime"))
    # the figures issue 12 quotes for TagPrime (RoBERTa-large)
    assert (tagprime["trigger_cls_f1"], tagprime["argument_attached_cls_f1"]) == (0.693, 0.491)
    assert {"OneIE"} <= set(published) and any(k.startswith("DEGREE") for k in published)


# -- the recipe -------------------------------------------------------------------------------------------
MAIN_RUN_COMMAND = [
    "--context",
    "neighbours",
    "--max-length",
    "96",
    "--epochs",
    "3",
    "--patience",
    "2",
    "--pooling",
    "mean+max",
    "--events-dir",
    "../shared/data/casie-events",
    "--event-heads",
    "--set",
    "event_lr_scale=5",
    "--seed",
    "13",
    "--out",
    "DIR",
]


def test_the_default_recipe_is_the_main_event_run(tx: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    """textee_splits.py with no recipe options trains exactly what the main run's train_transformer.py
    command line trains (run from the repository root)."""
    recipe = _script("_recipe")
    train_transformer = _script("train_transformer")
    monkeypatch.chdir(BENCHMARKS.parent)
    parser = train_transformer.build_parser()
    main_run = recipe.recipe_config(parser.parse_args(MAIN_RUN_COMMAND), parser)
    parser = tx.build_parser()
    ours = recipe.recipe_config(parser.parse_args(["--out", "DIR"]), parser)
    assert recipe.comparable(ours.to_dict()) == recipe.comparable(main_run.to_dict())
    assert (ours.events, ours.event_lr_scale, ours.context, ours.max_length) == (True, 5, "neighbours", 96)
    # and train_transformer.py's own defaults are unchanged: a sentence model without events
    parser = train_transformer.build_parser()
    plain = recipe.recipe_config(parser.parse_args(["--out", "DIR"]), parser)
    assert (plain.context, plain.max_length, plain.patience, plain.pooling) == ("none", 64, 1, "mean")
    assert (plain.events, plain.events_dir, plain.event_lr_scale) == (False, None, 1.0)


def test_recipe_options_override_the_defaults(tx: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = _script("_recipe")
    parser = tx.build_parser()
    args = parser.parse_args(["--out", "D", "--epochs", "1", "--max-length", "32", "--set", "event_lr_scale=2"])
    config = recipe.recipe_config(args, parser)
    assert (config.epochs, config.max_length, config.event_lr_scale) == (1, 32, 2)
    for bad in (
        ["--set", "event_lr_scale"],
        ["--set", "no_such_field=1"],
        ["--set", "epochs=[1"],
        ["--max-length", "4"],
    ):
        with pytest.raises(SystemExit) as exit_info:
            recipe.recipe_config(parser.parse_args(["--out", "D", *bad]), parser)
        assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


# -- resuming ---------------------------------------------------------------------------------------------
SETUP = {"recipe": {"epochs": 3}, "limit_docs": None}


def test_done_splits_reuses_results_of_the_same_setup_only(tx: ModuleType, tmp_path: Path) -> None:
    tx.write_json_atomic(tx.split_path(tmp_path, 1), _result(1, 0.6, 0.4, SETUP))
    assert list(tmp_path.iterdir()) == [tmp_path / "split1.json"]  # no temporary file left
    done = tx.done_splits(tmp_path, [1, 2, 3], SETUP)
    assert list(done) == [1] and done[1]["scores"]["trigger_cls_f1"] == 0.6
    with pytest.raises(tx.ResumeError, match=r"split1.json was made with another setup \(recipe, recipe.epochs"):
        tx.done_splits(tmp_path, [1], {"recipe": {"epochs": 1}, "limit_docs": None})
    assert list(tx.done_splits(tmp_path, [1], None)) == [1]  # --aggregate-only takes what is there
    tx.split_path(tmp_path, 2).write_text('{"scores": {', encoding="utf-8")
    with pytest.raises(tx.ResumeError, match=r"split2\.json"):
        tx.done_splits(tmp_path, [1, 2], SETUP)


def test_a_saved_model_is_reused_only_with_its_record(tx: ModuleType, tmp_path: Path) -> None:
    assert not tx.saved_model_usable(tmp_path, 1, SETUP)
    tx.model_path(tmp_path, 1).mkdir()
    assert not tx.saved_model_usable(tmp_path, 1, SETUP)  # saving was interrupted: no record
    tx.write_json_atomic(tx.trained_path(tmp_path, 1), {"setup": SETUP})
    assert tx.saved_model_usable(tmp_path, 1, SETUP)
    with pytest.raises(tx.ResumeError):
        tx.saved_model_usable(tmp_path, 1, {"recipe": {"epochs": 2}, "limit_docs": None})


def test_redecoding_compares_the_training_recipe_only(tx: ModuleType, tmp_path: Path) -> None:
    """A model trained before a decoding choice existed (no ``decode_join_*`` keys) is reusable for --redecode
    only; a decoding fixed in the recipe, or any training option, still has to match."""
    old = {"recipe": {"epochs": 3, "decode_trigger": None}, "limit_docs": None}
    later = {"decode_join_triggers": None, "event_cascade_below": None, "trigger_labels": None}
    new = {"recipe": {"epochs": 3, "decode_trigger": None, **later}, "limit_docs": None}
    tx.model_path(tmp_path, 1).mkdir()
    tx.write_json_atomic(tx.trained_path(tmp_path, 1), {"setup": old})
    with pytest.raises(tx.ResumeError, match=r"another setup \(recipe differ"):
        tx.saved_model_usable(tmp_path, 1, new)
    assert tx.saved_model_usable(tmp_path, 1, new, training_only=True)
    fixed = {"recipe": {"epochs": 3, "decode_trigger": 1.0}, "limit_docs": None}
    with pytest.raises(tx.ResumeError, match=r"recipe\.decode_trigger"):
        tx.saved_model_usable(tmp_path, 1, fixed, training_only=True)
    with pytest.raises(tx.ResumeError, match=r"recipe\.epochs"):
        tx.saved_model_usable(tmp_path, 1, {"recipe": {"epochs": 2}, "limit_docs": None}, training_only=True)


def _fake_run(tx: ModuleType, calls: list[int]) -> Any:
    """Stands for training and scoring one split: writes a result as run_split does."""

    def run_split(
        split: int, split_ids: Any, documents: Any, config: Any, setup: Any, out: Path, limit: Any, redecode: bool
    ) -> Any:
        calls.append(-split if redecode else split)
        result = _result(split, 0.5 + split / 100, 0.3, dict(setup)) | {"documents": {"train": 1, "dev": 1, "test": 1}}
        result["missing_from_corpus"] = split_ids.missing
        tx.write_json_atomic(tx.split_path(out, split), result)
        return result

    return run_split


def test_main_trains_only_the_splits_not_yet_done(
    tx: ModuleType,
    tiny_corpus_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    doc_ids = sorted(p.stem for p in (tiny_corpus_dir / "docs").glob("*.txt"))
    splits_dir = tmp_path / "splits"
    for n in (1, 2, 3):
        _write_split(splits_dir / f"split{n}", "\n".join(doc_ids[:5]), doc_ids[5], f"{doc_ids[6 + n]}\nmissing\n")
    (splits_dir / "README.md").write_text("| system | Trig-C |\n|---|---|\n| Zeta | 42.0 |\n", encoding="utf-8")
    events_dir = tmp_path / "events"
    events_dir.mkdir()
    out = tmp_path / "out"
    argv = ["--out", str(out), "--corpus", str(tiny_corpus_dir), "--splits-dir", str(splits_dir)]
    argv += ["--events-dir", str(events_dir), "--epochs", "1"]
    calls: list[int] = []
    monkeypatch.setattr(tx, "run_split", _fake_run(tx, calls))
    assert tx.main([*argv, "--splits", "2"]) == 0
    assert calls == [2]
    assert tx.main(argv) == 0
    assert calls == [2, 1, 3]  # split 2 was done: not trained again
    out_text = capsys.readouterr()
    assert "| Zeta (TextEE, published) |" in out_text.out and "| 42.0 |" in out_text.out
    assert "1 listed ids not in the corpus (0 train, 0 dev, 1 test)" in out_text.err
    assert "epochs=1" in out_text.out  # the recipe actually used
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["splits"] == [1, 2, 3] and summary["same_setup"]
    assert summary["setup"]["recipe"]["epochs"] == 1
    assert summary["aggregate"]["trigger_cls_f1"]["mean"] == pytest.approx(0.52)
    assert summary["aggregate"]["trigger_cls_f1"]["std"] == pytest.approx(0.01)
    assert (out / "summary.md").read_text(encoding="utf-8").startswith("Approximate comparison")
    # the same --out with another recipe is refused, not mixed in
    assert tx.main([*argv, "--epochs", "2"]) == 1
    assert "another setup" in capsys.readouterr().err and calls == [2, 1, 3]
    # --aggregate-only prints the table without training
    assert tx.main(["--out", str(out), "--splits-dir", str(splits_dir), "--aggregate-only", "--splits", "1", "3"]) == 0
    assert "| 1, 3 |" in capsys.readouterr().out and calls == [2, 1, 3]
    # --redecode scores done splits again, and needs their saved models
    with pytest.raises(SystemExit) as exit_info:
        tx.main([*argv, "--splits", "1", "--redecode"])
    assert exit_info.value.code == 2 and "no saved model of splits [1]" in capsys.readouterr().err
    tx.model_path(out, 1).mkdir()
    tx.write_json_atomic(tx.trained_path(out, 1), {"setup": summary["setup"]})
    assert tx.main([*argv, "--splits", "1", "--redecode"]) == 0
    assert calls == [2, 1, 3, -1]


def test_aggregate_only_without_results_is_an_error(tx: ModuleType, tmp_path: Path, capsys: Any) -> None:
    assert tx.main(["--out", str(tmp_path), "--aggregate-only"]) == 1
    assert "no split results" in capsys.readouterr().err


def test_bad_splits_options_are_usage_errors(tx: ModuleType, tmp_path: Path) -> None:
    for bad in (["--splits", "0"], ["--splits", "1", "1"], ["--limit-docs", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            tx.main(["--out", str(tmp_path), *bad])
        assert exit_info.value.code == 2


@pytest.mark.slow
@pytest.mark.data
def test_smoke_run_on_one_split_with_a_tiny_encoder(
    tx: ModuleType, casie_dir: Path, tiny_encoder_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real path end to end on a few real documents: train, save, score, write; then resume."""
    from threatevents.models.transformer import TransformerModel

    if not (TEXTEE_SPLITS / "split1").is_dir() or not (SHARED_DATA / "casie-events").is_dir():
        pytest.skip(f"needs TextEE's splits and the CASIE events in {SHARED_DATA} (../shared/data is absent)")
    out = tmp_path / "out"
    argv = ["--out", str(out), "--splits", "1", "--limit-docs", "3", "--epochs", "1", "--max-length", "32"]
    argv += ["--base-model", str(tiny_encoder_dir)]
    assert tx.main(argv) == 0
    result = json.loads(tx.split_path(out, 1).read_text(encoding="utf-8"))
    assert result["documents"] == {"train": 3, "dev": 3, "test": 3}
    assert result["setup"]["limit_docs"] == 3 and result["setup"]["recipe"]["events"] is True
    assert set(tx.SCORE_KEYS) <= set(result["scores"])
    assert all(0 <= result["scores"][k] <= 1 for k in tx.SCORE_KEYS)
    assert result["events"]["documents"] == 3 and result["events"]["trigger_cls"]["gold"] > 0
    assert tx.model_path(out, 1).is_dir()
    # scoring lost (the JSON deleted): the saved model is scored again without training
    tx.split_path(out, 1).unlink()

    def no_training(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("trained again")

    monkeypatch.setattr(TransformerModel, "fit", no_training)
    assert tx.main(argv) == 0
    again = json.loads(tx.split_path(out, 1).read_text(encoding="utf-8"))
    assert again["scores"] == result["scores"]
    # --redecode: the decoding is chosen again on dev and saved with the model, still without training; a record
    # from before a decoding choice existed takes the current setup and keeps the one it was trained with
    record = json.loads(tx.trained_path(out, 1).read_text(encoding="utf-8"))
    older = json.loads(json.dumps(record["setup"]))
    del older["recipe"]["decode_join_triggers"], older["recipe"]["event_cascade_below"]
    tx.write_json_atomic(tx.trained_path(out, 1), record | {"setup": older})
    for _ in range(2):  # twice: the first setup is kept
        assert tx.main([*argv, "--redecode"]) == 0
        record = json.loads(tx.trained_path(out, 1).read_text(encoding="utf-8"))
        assert record["redecoded_from"] == older and record["setup"] == result["setup"]
    saved = json.loads((tx.model_path(out, 1) / "config.json").read_text(encoding="utf-8"))["config"]
    assert isinstance(saved["decode_join_triggers"], bool) and isinstance(saved["decode_join_mentions"], bool)
