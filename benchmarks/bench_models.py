"""Speed of the model kinds on the official test split, and peak memory of a ``threatevents tag`` process.

Prints sentences/s for the shipped linear model, the fine-tuned transformer as a plain PyTorch
fp32 loop would run it (batches of 32 in document order, padded to the longest of the batch), and
the shipped default's ONNX transformer alone (batched by token length) and the shipped default as
tagging runs it (with its linear companion settling the easy sentences, when it has one); the
ratios between them; and the peak resident memory of ``threatevents tag`` on a text file with the shipped default.

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

from threatevents.corpus import Document, read_corpus

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "casie-sentences"


def rate(predict: Callable[[Sequence[Document]], object], docs: Sequence[Document], repeats: int = 2) -> float:
    """Best sentences/s over ``repeats`` timed runs after one warm-up call on a few documents."""
    predict(docs[:3])
    n = sum(len(d.sentences) for d in docs)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        predict(docs)
        best = min(best, time.perf_counter() - started)
    return n / best


def torch_plain_loop(checkpoint: Path) -> Callable[[Sequence[Document]], np.ndarray]:
    """Predict with the fp32 torch network: batches of 32 sentences in order, no length grouping."""
    import torch

    from threatevents.models.onnx_runtime import build_pairs, encode_pairs, load_tokenizer, pad_batch
    from threatevents.models.transformer_training import load_torch_checkpoint

    net, tokenizer_json, settings = load_torch_checkpoint(checkpoint)
    tokenizer = load_tokenizer(tokenizer_json, settings["max_length"])

    @torch.no_grad()
    def predict(docs: Sequence[Document]) -> np.ndarray:
        encoded = encode_pairs(tokenizer, build_pairs([d.texts for d in docs], settings["context"]))
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
    args = parser.parse_args()
    from threatevents.models import load_model

    test = read_corpus(DATA).split("test")
    n = sum(len(d.sentences) for d in test)
    print(f"test split: {len(test)} documents, {n} sentences")
    rates: dict[str, float] = {}
    try:
        rates["linear"] = rate(load_model("linear").predict_proba, test)
    except Exception as exc:  # the linear model is someone else's; report and go on
        print(f"linear model skipped: {exc}")
    if args.torch_checkpoint.is_dir():
        rates["torch fp32 plain loop"] = rate(torch_plain_loop(args.torch_checkpoint), test)
    else:
        print(f"torch baseline skipped: no checkpoint at {args.torch_checkpoint}")
    shipped = load_model(args.model)
    alone = getattr(shipped, "transformer_proba", None)
    if alone is not None and getattr(shipped, "linear", None) is not None:
        rates["shipped ONNX transformer alone"] = rate(alone, test)
        from threatevents.models.blend import easy_rows

        skipped = float(easy_rows(shipped.linear.predict_proba(test), shipped.config.cascade_below or 0.0).mean())
        print(f"the shipped cascade leaves {skipped:.1%} of test sentences to the linear model")
    rates[f"shipped {shipped.kind} (as tagging runs it)"] = rate(shipped.predict_proba, test)
    for name, value in rates.items():
        print(f"{name:32s} {value:10.1f} sentences/s")
    names = list(rates)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            print(f"ratio {b} / {a}: {rates[b] / rates[a]:.2f}x")
    print(f"peak RSS of `threatevents tag --model {args.model}`: {peak_rss_mb(args.model, test):.0f} MB")


if __name__ == "__main__":
    main()
