"""Train the event model on TextEE's CASIE splits; score each split's test documents with TextEE's scores.

An approximate comparison with the published systems listed in ``../shared/data/textee-casie-splits/README.md``
(TagPrime, OneIE, DEGREE...). For each split N (1 2 3 by default): train on ``splitN/train``, choose the epoch
and the sentence thresholds on ``splitN/dev``, and score ``splitN/test`` as ``threatevents evaluate
--events-dir`` does (:func:`threatevents.event_evaluation.evaluate_events`: TextEE's end-to-end scores over
exact article spans, plus realis accuracy and the sentence labels' weighted F1). The defaults are the main
event run's recipe (``_recipe.MAIN_EVENT_RUN``, the same options as ``train_transformer.py``)::

    nice python benchmarks/textee_splits.py --out runs/textee            # train and score splits 1 2 3
    python benchmarks/textee_splits.py --out runs/textee --aggregate-only  # the table from what is done

Each split's result goes to ``DIR/splitN.json`` as soon as it is scored (the trained model to
``DIR/splitN-model``, saved before scoring); a rerun skips the splits already scored and scores a saved
model without training it again, so an interrupted run resumes. A rerun with another recipe in the same
``--out`` is refused. ``--redecode`` chooses the event decoding of saved models again on dev with the current
code (for splits trained before a decoding choice was added) and scores them again, without training. The
Markdown table (also ``DIR/summary.md``, the figures in ``DIR/summary.json``)
gives each split, the mean, the sample standard deviation and the min-max over splits, next to the
published figures read from the splits README.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import CASIE_SENTENCES, TEXTEE_SPLITS

if TYPE_CHECKING:
    from threatevents.corpus import Document
    from threatevents.models.transformer import TransformerModel

from _recipe import MAIN_EVENT_RUN, add_recipe_options, comparable, recipe_config

PARTS = ("train", "dev", "test")
#: Our score keys, in table order, with the published table's column names (TextEE's names).
COLUMNS: dict[str, str] = {
    "trigger_id_f1": "Trig-I",
    "trigger_cls_f1": "Trig-C",
    "argument_id_f1": "Arg-I",
    "argument_cls_f1": "Arg-C",
    "argument_attached_id_f1": "Arg-I attached",
    "argument_attached_cls_f1": "Arg-C attached",
}
#: Scores without a published counterpart (ours only).
EXTRA_COLUMNS: dict[str, str] = {
    "realis_accuracy": "realis acc.",
    "sentence_weighted_f1": "sentence wF1",
}
SCORE_KEYS = (*COLUMNS, *EXTRA_COLUMNS)


class SplitError(ValueError):
    """A split folder that cannot be used (a list missing, a document in two parts)."""


class ResumeError(ValueError):
    """A result in ``--out`` that cannot be reused (unreadable, or made with another recipe)."""


# -- split lists ------------------------------------------------------------------------------------------
@dataclass
class SplitIds:
    """One split's document ids per part, those in the corpus (``present``) and those not (``missing``)."""

    present: dict[str, list[str]]
    missing: dict[str, list[str]]

    @property
    def missing_count(self) -> int:
        return sum(len(ids) for ids in self.missing.values())


def read_split(split_dir: Path, known_ids: Collection[str]) -> SplitIds:
    """``split_dir/{train,dev,test}.txt`` (one id a line; blank lines and repeats ignored), split into ids
    in ``known_ids`` and ids not; an id in two parts is refused (it would leak test documents into training)."""
    present: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for part in PARTS:
        path = split_dir / f"{part}.txt"
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise SplitError(f"cannot read {path}: {exc}") from None
        ids = list(dict.fromkeys(line.strip() for line in lines if line.strip()))
        for doc_id in ids:
            if doc_id in seen:
                raise SplitError(f"{split_dir}: document {doc_id!r} is in both {seen[doc_id]}.txt and {part}.txt")
            seen[doc_id] = part
        present[part] = [i for i in ids if i in known_ids]
        missing[part] = [i for i in ids if i not in known_ids]
    return SplitIds(present, missing)


# -- aggregation ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation (``None`` for one value) and range of one score over splits."""

    mean: float
    std: float | None
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "min": self.low, "max": self.high, "n": self.n}


def spread(values: Sequence[float]) -> Spread:
    if not values:
        raise ValueError("no values to aggregate")
    std = statistics.stdev(values) if len(values) > 1 else None
    return Spread(statistics.fmean(values), std, min(values), max(values), len(values))


def aggregate(results: Sequence[Mapping[str, Any]]) -> dict[str, Spread]:
    """Each score of :data:`SCORE_KEYS` that every result has, over the results."""
    return {
        key: spread([float(r["scores"][key]) for r in results])
        for key in SCORE_KEYS
        if results and all(r["scores"].get(key) is not None for r in results)
    }


# -- published figures ------------------------------------------------------------------------------------
def read_published(readme: Path) -> dict[str, dict[str, float]]:
    """The published table of the splits README: system -> our score key -> F1 as a fraction.

    The first Markdown table whose header starts with ``system``; columns named as in :data:`COLUMNS`
    (others ignored). Empty when the file or the table is absent.
    """
    try:
        lines = readme.read_text(encoding="utf-8").splitlines()
    except OSError:
        return {}
    by_name = {name: key for key, name in COLUMNS.items()}
    out: dict[str, dict[str, float]] = {}
    header: list[str] | None = None
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.lstrip().startswith("|") else None
        if cells is None:
            if header is not None:
                break  # the table ended
            continue
        if header is None:
            if cells[0].lower() == "system":
                header = cells
            continue
        if all(re.fullmatch(r":?-+:?", c) for c in cells):
            continue  # the separator row
        row: dict[str, float] = {}
        for name, cell in zip(header[1:], cells[1:], strict=False):
            if name in by_name:
                try:
                    row[by_name[name]] = round(float(cell) / 100, 6)
                except ValueError:
                    continue
        if row:
            out[cells[0]] = row
    return out


# -- results on disk (resume) -----------------------------------------------------------------------------
def split_path(out: Path, split: int) -> Path:
    return out / f"split{split}.json"


def trained_path(out: Path, split: int) -> Path:
    """What was trained for a split (setup, training log), written once its model is saved."""
    return out / f"split{split}-trained.json"


def model_path(out: Path, split: int) -> Path:
    return out / f"split{split}-model"


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so that a reader never sees half a file (a killed run leaves the old one or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def read_result(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResumeError(f"cannot read {path}: {exc}; delete it to redo that split") from None
    if not isinstance(data, dict) or not isinstance(data.get("scores"), dict) or "setup" not in data:
        raise ResumeError(f"{path} is not a split result of this script; delete it to redo that split")
    return data


#: Recipe keys that ``--redecode`` chooses again on a saved model when the recipe leaves them null (to dev).
REDECODED = ("decode_", "trigger_labels", "event_cascade_below")


def training_setup(setup: Any) -> Any:
    """``setup`` without the choices after training that the recipe leaves to dev (:data:`REDECODED` keys that
    are null): what a model trained with it depends on; ``--redecode`` chooses those again on a saved model."""
    if not isinstance(setup, dict) or not isinstance(setup.get("recipe"), dict):
        return setup
    recipe = {k: v for k, v in setup["recipe"].items() if not (k.startswith(REDECODED) and v is None)}
    return {**setup, "recipe": recipe}


def check_setup(path: Path, found: Any, wanted: Mapping[str, Any], *, training_only: bool = False) -> None:
    """Refuse a result made with another setup than ``wanted`` (naming the keys that differ); with
    ``training_only``, the decoding choices left to dev are not compared (:func:`training_setup`)."""
    if training_only:
        found, wanted = training_setup(found), training_setup(dict(wanted))
    if found == wanted:
        return
    if isinstance(found, dict):
        differ = sorted(k for k in set(found) | set(wanted) if found.get(k) != wanted.get(k))
        old, new = found.get("recipe"), wanted.get("recipe")
        if isinstance(old, dict) and isinstance(new, dict):
            differ += sorted(f"recipe.{k}" for k in set(old) | set(new) if old.get(k) != new.get(k))
    else:
        differ = ["setup"]
    raise ResumeError(
        f"{path} was made with another setup ({', '.join(differ)} differ); give another --out, "
        "or delete it to redo that split with this one"
    )


def done_splits(out: Path, splits: Sequence[int], setup: Mapping[str, Any] | None) -> dict[int, dict[str, Any]]:
    """The results already in ``out`` among ``splits``; with ``setup``, each must have been made with it."""
    done = {}
    for split in splits:
        path = split_path(out, split)
        if path.is_file():
            result = read_result(path)
            if setup is not None:
                check_setup(path, result["setup"], setup)
            done[split] = result
    return done


def saved_model_usable(out: Path, split: int, setup: Mapping[str, Any], *, training_only: bool = False) -> bool:
    """Whether a model trained for ``split`` with ``setup`` was saved whole (its record is written after it);
    ``training_only`` as in :func:`check_setup`."""
    path = trained_path(out, split)
    if not path.is_file() or not model_path(out, split).is_dir():
        return False
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    check_setup(path, record.get("setup") if isinstance(record, dict) else None, setup, training_only=training_only)
    return True


# -- the table --------------------------------------------------------------------------------------------
def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _spread_cell(s: Spread) -> str:
    std = "n/a" if s.std is None else f"{100 * s.std:.1f}"
    return f"{100 * s.mean:.1f} ± {std} [{100 * s.low:.1f}–{100 * s.high:.1f}]"


def describe_recipe(recipe: Mapping[str, Any]) -> str:
    """The recipe in one line: the main training settings, then every other field that is not the default."""
    from threatevents.models.transformer_config import TransformerConfig

    keys = [
        "context", "max_length", "epochs", "patience", "pooling", "events", "event_lr_scale", "learning_rate",
        "batch_size", "seed", "trigger_weight",
    ]  # fmt: skip
    defaults = TransformerConfig().to_dict()
    keys += [
        k for k in recipe if k not in keys and k not in ("events_dir", "base_model") and recipe[k] != defaults.get(k)
    ]
    shown = [f"{k}={recipe[k]}" for k in keys if k in recipe]
    shown.append(f"base_model={recipe.get('base_model') or 'all-MiniLM-L6-v2 (packaged)'}")
    return ", ".join(shown)


def render_table(results: Mapping[int, Mapping[str, Any]], published: Mapping[str, Mapping[str, float]]) -> str:
    """Markdown: a row per split, mean ± sample std [min–max] over them, and the published rows."""
    columns = [*COLUMNS.values(), *EXTRA_COLUMNS.values()]
    lines = [
        "Approximate comparison on TextEE's CASIE splits (F1 %; see the notes below the table).",
        "",
        "| system | splits | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    splits = sorted(results)
    for split in splits:
        scores = results[split]["scores"]
        lines.append(f"| threatevents | {split} | " + " | ".join(_pct(scores.get(k)) for k in SCORE_KEYS) + " |")
    summary = aggregate([results[s] for s in splits])
    if summary:
        label = ", ".join(map(str, splits))
        cells = [_spread_cell(summary[k]) if k in summary else "–" for k in SCORE_KEYS]
        lines.append(f"| **threatevents, mean ± sample std [min–max]** | {label} | " + " | ".join(cells) + " |")
    for system, row in published.items():
        cells = [_pct(row.get(k)) for k in SCORE_KEYS]
        lines.append(f"| {system} (TextEE, published) | 1-5, mean | " + " | ".join(cells) + " |")
    lines.append("")
    recipes = {json.dumps(results[s]["setup"], sort_keys=True) for s in splits}
    if splits:
        first = results[splits[0]]
        lines.append(f"Recipe: {describe_recipe(first['setup']['recipe'])}.")
        if first["setup"].get("limit_docs"):
            lines.append(f"**Smoke run**: only the first {first['setup']['limit_docs']} documents of each part.")
    if len(recipes) > 1:
        lines.append("**Warning: the splits were not all made with the same setup** (compare `setup` in their JSON).")
    for split in splits:
        r = results[split]
        docs, missing = r["documents"], r["missing_from_corpus"]
        lines.append(
            f"Split {split}: {docs['train']} train / {docs['dev']} dev / {docs['test']} test documents "
            f"({sum(len(v) for v in missing.values())} listed ids not in the corpus)."
        )
    lines.append(
        "Approximate: the published figures are TextEE's means over its five splits with RoBERTa-large or "
        "BART-large encoders on a GPU (Huang et al., Findings of ACL 2024), read from the splits README; ours train "
        "on fewer documents, score the test documents present in this corpus, and score exact character spans in "
        "whole documents instead of TextEE's token windows. Realis accuracy and sentence weighted F1 have no "
        "published counterpart."
    )
    return "\n".join(lines)


def summary_json(results: Mapping[int, Mapping[str, Any]], published: Mapping[str, Any]) -> dict[str, Any]:
    splits = sorted(results)
    return {
        "splits": splits,
        "setup": results[splits[0]]["setup"] if splits else None,
        "same_setup": len({json.dumps(results[s]["setup"], sort_keys=True) for s in splits}) <= 1,
        "per_split": {str(s): results[s]["scores"] for s in splits},
        "aggregate": {k: v.to_dict() for k, v in aggregate([results[s] for s in splits]).items()},
        "published": published,
        "note": "approximate comparison; see the table notes",
    }


# -- training and scoring ---------------------------------------------------------------------------------
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_split(
    split: int,
    split_ids: SplitIds,
    documents: Mapping[str, Document],
    config_dict: Mapping[str, Any],
    setup: Mapping[str, Any],
    out: Path,
    limit: int | None,
    redecode: bool = False,
) -> dict[str, Any]:
    """Train (or reload the saved model of) one split, score its test documents, write ``splitN.json``.

    With ``redecode``, a saved model gets its decoding, trigger-label weight, events cascade and thresholds chosen
    again on the
    split's dev with this code (as ``fit`` and the training branch below choose them), is saved again, and its
    record takes this setup, with the one it was trained with kept under ``redecoded_from``.
    """
    from threatevents.event_evaluation import evaluate_events
    from threatevents.metrics import headline_scores
    from threatevents.models import load_model
    from threatevents.models.base import flatten_labels
    from threatevents.models.transformer import TransformerModel
    from threatevents.models.transformer_config import TransformerConfig

    docs = {part: [documents[i] for i in split_ids.present[part]][:limit] for part in PARTS}
    train, dev, test = docs["train"], docs["dev"], docs["test"]
    if not (train and dev and test):
        sizes = ", ".join(f"{len(d)} {part}" for part, d in docs.items())
        raise SplitError(f"split {split}: a part has no documents in the corpus ({sizes})")
    trained: dict[str, Any]
    if saved_model_usable(out, split, setup, training_only=redecode):
        log(f"split {split}: scoring the model saved in {model_path(out, split)} (trained before)")
        model = load_model(model_path(out, split))
        trained = json.loads(trained_path(out, split).read_text(encoding="utf-8"))
        if redecode:
            assert isinstance(model, TransformerModel)
            redecode_model(model, train, dev, config_dict)
            log(f"split {split}: decoding chosen again on dev: {model.metrics.get('decoding', {}).get('decoding')}")
            model.save(model_path(out, split))
            trained = trained | {
                "setup": dict(setup),
                "redecoded_from": trained.get("redecoded_from", trained.get("setup")),  # the setup it was trained with
                "config_after_fit": model.config.to_dict(),
            }
            write_json_atomic(trained_path(out, split), trained)
    else:
        log(f"split {split}: training on {len(train)} documents, choosing on {len(dev)}")
        model = TransformerModel(TransformerConfig.from_dict(dict(config_dict)))
        started = time.perf_counter()
        model.fit(train, dev)
        model.tune_thresholds(dev)
        fit_seconds = time.perf_counter() - started
        model.save(model_path(out, split))  # first, so that a failure in scoring does not lose the training
        trained = {
            "setup": dict(setup),
            "fit_seconds_incl_export": round(fit_seconds, 1),
            "config_after_fit": model.config.to_dict(),
            "training": model.metrics.get("training"),
        }
        write_json_atomic(trained_path(out, split), trained)
    log(f"split {split}: scoring {len(test)} test documents")
    started = time.perf_counter()
    events, annotation = evaluate_events(model, test, config_dict["events_dir"])
    sentences = headline_scores(flatten_labels(test), model.predict_proba(test) >= model.thresholds)
    event_dict = events.to_dict()
    result = {
        "split": split,
        "setup": dict(setup),
        "scores": {k: event_dict[k] for k in (*COLUMNS, "realis_accuracy")}
        | {"sentence_weighted_f1": sentences["weighted_f1"], "sentence_events_macro_f1": sentences["events_macro_f1"]},
        "documents": {part: len(d) for part, d in docs.items()},
        "missing_from_corpus": split_ids.missing,
        "events": event_dict,
        "annotation": {
            "documents": annotation.documents,
            "shifted": len(annotation.shifted),
            "skipped_files": len(annotation.skipped_files),
            "dropped_events": sum(annotation.dropped_events.values()),
            "dropped_arguments": sum(annotation.dropped_arguments.values()),
        },
        "score_seconds": round(time.perf_counter() - started, 1),
    } | {k: v for k, v in trained.items() if k != "setup"}
    write_json_atomic(split_path(out, split), result)
    log(f"split {split}: wrote {split_path(out, split)}")
    return result


def redecode_model(
    model: TransformerModel, train: Sequence[Document], dev: Sequence[Document], recipe: Mapping[str, Any]
) -> None:
    """Choose ``model``'s event decoding, trigger-label weight and events cascade again on ``dev`` where ``recipe``
    leaves them null (the values it gives are set), in fit's order, then the thresholds; a model saved before the
    trigger lexicon gets one counted from ``train``'s annotation first, and one saved before the trigger ranker or
    the argument ranker gets it fitted on ``train``."""
    from dataclasses import fields

    from threatevents.models.event_extractor import Decoding

    cfg = model.config
    cfg.events_dir = str(recipe["events_dir"])
    for name in (*(f"decode_{f.name}" for f in fields(Decoding)), "trigger_labels", "event_cascade_below"):
        setattr(cfg, name, recipe.get(name))  # as fit starts: null where dev chooses
    if model.event_heads is not None and model.event_heads.lexicon is None:
        model.build_trigger_lexicon(train)
    if model.event_heads is not None and model.event_heads.ranker is None:
        model.fit_trigger_ranker(train)
    if model.event_heads is not None and model.event_heads.argument_ranker is None:
        model.fit_argument_ranker(train)
    given = [f.name for f in fields(Decoding) if recipe.get(f"decode_{f.name}") is not None]
    if len(given) < len(fields(Decoding)):
        model.tune_event_decoding(dev, keep=given)
    if cfg.trigger_labels is None:
        model.tune_trigger_labels(dev)
    if cfg.event_cascade_below is None:
        model.tune_event_cascade(dev)
    model.tune_thresholds(dev)


# -- command line -----------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="results folder (splitN.json, splitN-model, summary)")
    parser.add_argument("--splits", type=int, nargs="+", default=[1, 2, 3], help="which TextEE splits (default: 1 2 3)")
    parser.add_argument("--aggregate-only", action="store_true", help="only print the table from --out's results")
    parser.add_argument(
        "--limit-docs", type=int, default=None, help="smoke run: the first N documents of each part only"
    )
    parser.add_argument(
        "--corpus", type=Path, default=CASIE_SENTENCES, help="the sentence corpus folder (default: %(default)s)"
    )
    parser.add_argument(
        "--splits-dir",
        type=Path,
        default=TEXTEE_SPLITS,
        help="TextEE's split folders and README (default: %(default)s)",
    )
    parser.add_argument(
        "--redecode",
        action="store_true",
        help="for the splits whose model is saved: choose the event decoding (and the trigger-label weight and "
        "thresholds that depend on it) again on dev with this code, and score again, without training again",
    )
    add_recipe_options(parser, MAIN_EVENT_RUN)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if any(s < 1 for s in args.splits) or len(set(args.splits)) != len(args.splits):
        parser.error(f"--splits: give distinct positive split numbers, not {args.splits}")
    if args.limit_docs is not None and args.limit_docs < 1:
        parser.error("--limit-docs must be at least 1")
    splits = sorted(args.splits)
    published = read_published(args.splits_dir / "README.md")
    try:
        if args.aggregate_only:
            results = done_splits(args.out, splits, None)
            if not results:
                print(f"no split results in {args.out} for splits {splits}", file=sys.stderr)
                return 1
        else:
            results = train_and_score(args, parser, splits)
    except (SplitError, ResumeError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not published:
        log(f"no published figures found in {args.splits_dir / 'README.md'}: the table has ours only")
    table = render_table(results, published)
    write_json_atomic(args.out / "summary.json", summary_json(results, published))
    (args.out / "summary.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


def train_and_score(
    args: argparse.Namespace, parser: argparse.ArgumentParser, splits: Sequence[int]
) -> dict[int, dict[str, Any]]:
    from threatevents.corpus import read_corpus

    config = recipe_config(args, parser)
    if not config.events_dir or not Path(config.events_dir).is_dir():
        parser.error(f"--events-dir {config.events_dir}: no such folder (the gold events to score against)")
    config.events_dir = str(Path(config.events_dir).resolve())
    setup = {"recipe": comparable(config.to_dict()), "limit_docs": args.limit_docs}
    limited = f"; only the first {args.limit_docs} documents of each part" if args.limit_docs else ""
    log(f"recipe: {describe_recipe(setup['recipe'])}{limited}")
    results = {} if args.redecode else done_splits(args.out, splits, setup)
    if args.redecode:
        missing = [s for s in splits if not saved_model_usable(args.out, s, setup, training_only=True)]
        if missing:
            parser.error(f"--redecode: no saved model of splits {missing} in {args.out}")
    todo = [s for s in splits if s not in results]
    if results:
        log(f"already scored in {args.out}: splits {sorted(results)}")
    if not todo:
        return results
    corpus = read_corpus(args.corpus)
    split_ids = {}
    for split in todo:  # every split list is read before the first (long) training
        split_ids[split] = read_split(args.splits_dir / f"split{split}", corpus.documents)
        missing = split_ids[split].missing
        counts = ", ".join(f"{len(missing[p])} {p}" for p in PARTS)
        log(f"split {split}: {split_ids[split].missing_count} listed ids not in the corpus ({counts})")
    for split in todo:
        results[split] = run_split(
            split, split_ids[split], corpus.documents, config.to_dict(), setup, args.out, args.limit_docs, args.redecode
        )
    return results


if __name__ == "__main__":
    sys.exit(main())
