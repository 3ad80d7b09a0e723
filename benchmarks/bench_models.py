"""Speed of the model kinds on the official test split, and peak memory of a ``threatevents tag`` process.

Prints sentences/s for the shipped linear model, the fine-tuned transformer as a plain PyTorch
fp32 loop would run it (batches of 32 in document order, padded to the longest of the batch), and
the shipped default's ONNX transformer alone (batched by token length) and the shipped default as
tagging runs it (with its linear companion settling the easy sentences, when it has one); the
ratios between them (medians of interleaved rounds, so that both sides of a ratio ran under the
same load); and the peak resident memory of ``threatevents tag`` on a text file with the shipped default.

    python benchmarks/bench_models.py --torch-checkpoint runs/tf-none/torch

The torch checkpoint is the fp32 copy ``benchmarks/train_transformer.py`` keeps outside the package.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from _common import CASIE_SENTENCES
from threatevents.corpus import Document, read_corpus


def interleaved_rates(
    predictors: dict[str, Callable[[Sequence[Document]], object]], docs: Sequence[Document], rounds: int
) -> tuple[dict[str, float], dict[tuple[str, str], float]]:
    """Sentences/s of each predictor, and the ratio of each pair, from ``rounds`` interleaved rounds.

    Every round times each predictor once on all of ``docs``, one after the other, so that a pair's
    ratio compares runs seconds apart under the same machine load. A predictor's rate is its median
    over rounds; a pair's ratio is the median of its per-round ratios. Each predictor first gets one
    untimed warm-up call on a few documents.
    """
    n = sum(len(d.sentences) for d in docs)
    for predict in predictors.values():
        predict(docs[:3])
    per_round: dict[str, list[float]] = {name: [] for name in predictors}
    for _ in range(rounds):
        for name, predict in predictors.items():
            started = time.perf_counter()
            predict(docs)
            per_round[name].append(n / (time.perf_counter() - started))
    names = list(predictors)
    ratios = {
        (a, b): float(np.median(np.asarray(per_round[b]) / np.asarray(per_round[a])))
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    }
    return {name: float(np.median(values)) for name, values in per_round.items()}, ratios


def torch_plain_loop(checkpoint: Path) -> Callable[[Sequence[Document]], np.ndarray]:
    """Predict with the fp32 torch network: batches of 32 sentences in order, no length grouping."""
    import torch

    from threatevents.models.onnx_runtime import encode_documents, load_tokenizer, pad_batch
    from threatevents.models.transformer_training import load_torch_checkpoint

    net, tokenizer_json, settings = load_torch_checkpoint(checkpoint)
    tokenizer = load_tokenizer(tokenizer_json, settings["max_length"])

    @torch.no_grad()
    def predict(docs: Sequence[Document]) -> np.ndarray:
        encoded = encode_documents(tokenizer, [d.texts for d in docs], settings["context"])
        out = []
        for start in range(0, len(encoded), 32):
            batch = {k: torch.from_numpy(v) for k, v in pad_batch(encoded[start : start + 32]).items()}
            out.append(net(**batch).numpy())
        return np.concatenate(out)

    return predict


def peak_rss_mb(model: str, docs: Sequence[Document]) -> float:
    """Peak RSS (MB) of ``threatevents tag`` on one text file holding the test documents, via /usr/bin/time -v."""
    exe = shutil.which("threatevents") or str(Path(sys.executable).with_name("threatevents"))
    with tempfile.TemporaryDirectory() as tmp:
        text = Path(tmp) / "report.txt"
        text.write_text("\n\n".join(" ".join(d.texts) for d in docs), encoding="utf-8")
        done = subprocess.run(
            ["/usr/bin/time", "-v", exe, "tag", "--model", model, str(text), "-o", str(Path(tmp) / "out.jsonl")],
            capture_output=True,
            text=True,
            check=True,
        )
    line = next(x for x in done.stderr.splitlines() if "Maximum resident set size" in x)
    return int(line.rsplit(":", 1)[1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch-checkpoint", type=Path, default=Path("runs/tf-none/torch"))
    parser.add_argument("--model", default="default", help="the shipped ONNX model: 'default' or a directory")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (medians are reported)")
    args = parser.parse_args()
    from threatevents.models import load_model
    from threatevents.models.blend import easy_rows
    from threatevents.models.transformer import TransformerModel

    test = read_corpus(CASIE_SENTENCES).split("test")
    n = sum(len(d.sentences) for d in test)
    print(f"test split: {len(test)} documents, {n} sentences")
    predictors: dict[str, Callable[[Sequence[Document]], object]] = {}
    try:
        predictors["linear"] = load_model("linear").predict_proba
    except Exception as exc:  # the linear model is someone else's; report and go on
        print(f"linear model skipped: {exc}")
    if args.torch_checkpoint.is_dir():
        predictors["torch fp32 plain loop"] = torch_plain_loop(args.torch_checkpoint)
    else:
        print(f"torch baseline skipped: no checkpoint at {args.torch_checkpoint}")
    shipped = load_model(args.model)
    if isinstance(shipped, TransformerModel) and shipped.linear is not None:
        predictors["shipped ONNX transformer alone"] = shipped.transformer_proba
        cut = shipped.config.cascade_below or 0.0
        skipped = float(easy_rows(shipped.linear.predict_proba(test), cut).mean())
        print(f"the shipped cascade leaves {skipped:.1%} of test sentences to the linear model")
    predictors[f"shipped {shipped.kind} (as tagging runs it)"] = shipped.predict_proba
    rates, ratios = interleaved_rates(predictors, test, args.rounds)
    print(f"medians of {args.rounds} interleaved rounds (each round runs every predictor once on the test split)")
    for name, value in rates.items():
        print(f"{name:42s} {value:10.1f} sentences/s")
    for (a, b), ratio in ratios.items():
        print(f"ratio {b} / {a}: {ratio:.2f}x")
    print(f"peak RSS of `threatevents tag --model {args.model}`: {peak_rss_mb(args.model, test):.0f} MB")


if __name__ == "__main__":
    main()
