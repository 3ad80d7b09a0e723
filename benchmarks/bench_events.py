"""Speed and memory of event tagging: the CLI path with and without events, against a plain PyTorch fp32 loop.

The contenders tag the same documents (default: the ``test`` split of the CASIE sentence corpus),
timed in interleaved rounds (each round runs every contender once, in an order that rotates from round
to round, so both sides of a ratio ran seconds apart under the same load):

a. ``cli path with events``: :func:`threatevents.tagging.tag_documents` with the loaded model
   (onnxruntime, int8), sentence labels and events from one pass, indicators included: what
   ``threatevents tag`` runs once the documents are read;
b. ``cli path --no-events``: the same with the model's events switched off (``events_enabled = False``);
c. ``pytorch fp32 plain loop``: the same network from its fp32 torch checkpoint (``--torch-checkpoint``),
   as a plain PyTorch user would run it: the same sentence windows
   (:func:`~threatevents.models.event_extractor.encode_windows`), batches of 32 windows in document order
   padded to the longest, ``torch.no_grad``, then event decoding by the same function
   (:func:`~threatevents.models.event_extractor.window_events`) with the checkpoint's own heads and plain
   decoding (no offsets, joins, lexicon or ranker, every sentence): less decoding work than a, so a/c favours c;
d. ``int8 graph only``: the model's onnxruntime graph alone over the windows a runs (those the events cascade
   keeps), encoded before timing: no reading, tokenising, linear companion or decoding. Its rate is the most a can
   reach with this network on this machine, so d/c is the ceiling of a/c here;
e. with ``--in-line``: a with the graph run in line with the decoding (``EVENTS_PREFETCH = 0``) instead of ahead of
   it in a background thread, to measure what that overlap gives (a/e).

Both runtimes get the same number of threads (``--threads``, default the cores this process may use, at
most 8). Then the peak RSS of a real ``threatevents tag FILE --model MODEL`` process on a text file of
about 20 paragraphs (with events and with ``--no-events``) and the size of the model folder. Bars (issue
12): a/c >= 5, a/b >= 0.60, peak RSS < 500 MB, model < 40 MB.

    python benchmarks/bench_events.py --model runs/ev1/model --torch-checkpoint runs/ev1/torch --json ev.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from _common import CASIE_SENTENCES, child_peak_rss_mb
from threatevents.corpus import read_corpus
from threatevents.environment import describe_environment
from threatevents.events import SENTENCE_SEPARATOR, Event
from threatevents.ingest import IngestedDocument
from threatevents.ingest.document import Span

WITH_EVENTS, NO_EVENTS, TORCH = "cli path with events", "cli path --no-events", "pytorch fp32 plain loop"
GRAPH = "int8 graph only"
IN_LINE = "cli path, graph in line"
BARS = {"events_over_torch": 5.0, "events_over_no_events": 0.60, "peak_rss_mb": 500.0, "model_mb": 40.0}
TORCH_BATCH = 32
RSS_PARAGRAPHS = 20

Contender = Callable[[Sequence[IngestedDocument]], int]  # tags the documents, returns how many events it found


def as_ingested(sentences: Sequence[Sequence[str]], names: Sequence[str]) -> list[IngestedDocument]:
    """Corpus documents as ingestion would hand them to tagging: sentences joined by the separator, with offsets."""
    docs = []
    for name, texts in zip(names, sentences, strict=True):
        spans, at = [], 0
        for text in texts:
            spans.append(Span(at, at + len(text), text))
            at += len(text) + len(SENTENCE_SEPARATOR)
        docs.append(IngestedDocument(name, SENTENCE_SEPARATOR.join(texts), spans))
    return docs


def interleaved(contenders: dict[str, Contender], docs: Sequence[IngestedDocument], rounds: int) -> dict[str, Any]:
    """Per contender its sentences/s in every round and the events it found; round ``r`` starts with the
    ``r``-th contender and goes round. Each contender first gets one untimed warm-up call on a few documents."""
    n = sum(len(d.sentences) for d in docs)
    for run in contenders.values():
        run(docs[:3])
    names = list(contenders)
    rates: dict[str, list[float]] = {name: [] for name in names}
    found: dict[str, int] = {}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            started = time.perf_counter()
            found[name] = contenders[name](docs)
            rates[name].append(n / (time.perf_counter() - started))
    return {"rates": rates, "events_found": found}


def ratio(rates: dict[str, list[float]], a: str, b: str) -> float | None:
    """Median over rounds of ``a``'s rate over ``b``'s in the same round."""
    if a not in rates or b not in rates:
        return None
    return float(np.median(np.asarray(rates[a]) / np.asarray(rates[b])))


def cli_path(model: Any, events: bool, prefetch: int | None = None) -> Contender:
    """``tag_documents`` with events on or off; ``prefetch`` sets ``EVENTS_PREFETCH`` for the call (else as shipped)."""
    from threatevents.models import transformer
    from threatevents.tagging import tag_documents

    shipped = transformer.EVENTS_PREFETCH

    def run(docs: Sequence[IngestedDocument]) -> int:
        model.events_enabled = events
        transformer.EVENTS_PREFETCH = shipped if prefetch is None else prefetch
        try:
            tagged = tag_documents(model, docs)
        finally:
            transformer.EVENTS_PREFETCH = shipped
        return sum(len(s.events) for doc in tagged for s in doc)

    return run


def kept_windows(model: Any, docs: Sequence[IngestedDocument]) -> list[tuple[list[int], list[int]]]:
    """The encoder inputs the events pass of ``model`` runs for ``docs``: every sentence's window but those the
    events cascade skips (as ``TransformerModel._events_pass`` decides it)."""
    from threatevents.models.blend import easy_rows
    from threatevents.models.event_extractor import encode_windows

    texts = [d.texts for d in docs]
    windows = encode_windows(model._window_tokenizer(), texts, model.config.max_length)
    _, cut = model._cascade_cuts()
    if model.linear is None or not cut:
        return [w.pair for w in windows]
    skip = easy_rows(model.linear.predict_proba(texts), cut)
    return [w.pair for w, skipped in zip(windows, skip.tolist(), strict=True) if not skipped]


def graph_only(model: Any, docs: Sequence[IngestedDocument]) -> Contender:
    """``model``'s graph over :func:`kept_windows`, in its length batches, with every output the events pass
    fetches; ``docs``' windows are encoded now, any other documents' (the warm-up call) when given."""
    from threatevents.models.event_extractor import EVENT_OUTPUTS
    from threatevents.models.onnx_runtime import OUTPUT_NAME

    ready = kept_windows(model, docs)
    names = (OUTPUT_NAME, *EVENT_OUTPUTS)

    def run(given: Sequence[IngestedDocument]) -> int:
        for _ in model._runtime.batches(ready if given is docs else kept_windows(model, given), names):
            pass
        return 0

    return run


def torch_plain_loop(checkpoint: Path, max_length: int) -> Contender:
    """The fp32 network of ``checkpoint``: windows in batches of 32 in document order, then the same decoding."""
    import torch

    from threatevents.models.event_extractor import WindowOutputs, encode_windows, plain_tokenizer, window_events
    from threatevents.models.onnx_runtime import pad_batch
    from threatevents.models.transformer_training import load_torch_checkpoint

    net, tokenizer_json, settings = load_torch_checkpoint(checkpoint)
    if net.events is None:
        raise ValueError(f"{checkpoint} has no event heads")
    heads = net.events.numpy_weights()
    tokenizer = plain_tokenizer(tokenizer_json)
    max_length = int(settings.get("max_length", max_length))

    @torch.no_grad()
    def run(docs: Sequence[IngestedDocument]) -> int:
        texts = [d.texts for d in docs]
        windows = encode_windows(tokenizer, texts, max_length)
        outputs: list[list[np.ndarray]] = []
        probs = []
        for start in range(0, len(windows), TORCH_BATCH):
            batch = windows[start : start + TORCH_BATCH]
            inputs = {k: torch.from_numpy(v) for k, v in pad_batch([w.pair for w in batch]).items()}
            prob, *events = net(**inputs)
            probs.append(prob.numpy())
            arrays = [a.numpy() for a in events]
            outputs += [[a[row, : len(w.ids)] for a in arrays] for row, w in enumerate(batch)]
        found: list[Event] = []
        row = 0
        for doc in docs:
            for i in range(len(doc.sentences)):
                around = [
                    (doc.sentences[j].text, doc.sentences[j].start) if 0 <= j < len(doc.sentences) else None
                    for j in (i - 1, i, i + 1)
                ]
                found += window_events(windows[row], WindowOutputs(*outputs[row]), heads, around)
                row += 1
        return len(found)

    return run


def peak_rss_mb(model: str, paragraphs: Sequence[str], no_events: bool) -> float:
    """Peak RSS (MB) of one ``threatevents tag`` process tagging a text file of ``paragraphs``."""
    script = Path(sys.executable).with_name("threatevents")  # the entry point installed with this Python
    exe = [str(script)] if script.is_file() else [sys.executable, "-m", "threatevents.cli"]
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.txt"
        report.write_text("\n\n".join(paragraphs), encoding="utf-8")
        command = [*exe, "tag", str(report), "--model", model, "-o", str(Path(tmp) / "out.jsonl")]
        return child_peak_rss_mb(command + (["--no-events"] if no_events else []))


def folder_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="default", help="model directory, or 'default' (the shipped one)")
    parser.add_argument("--torch-checkpoint", type=Path, help="fp32 torch checkpoint of the same network")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (medians are reported)")
    parser.add_argument("--limit", type=int, help="only the first N documents of the test split")
    parser.add_argument("--threads", type=int, help="threads of both runtimes (default: the cores, at most 8)")
    parser.add_argument("--corpus", type=Path, default=CASIE_SENTENCES, help="corpus folder (its test split)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--in-line", action="store_true", help="also time a with the graph run in line (e)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or (args.limit is not None and args.limit < 1):
        parser.error("--rounds and --limit must be at least 1")

    from threatevents.models import load_model, resolve_model_path
    from threatevents.models.onnx_runtime import default_threads

    if not (args.corpus / "splits.json").is_file():
        parser.error(f"no corpus at {args.corpus} (../shared/data is absent?)")
    threads = args.threads or default_threads()
    whole_split = read_corpus(args.corpus).split("test")
    test = whole_split[: args.limit]
    docs = as_ingested([d.texts for d in test], [d.id for d in test])
    n = sum(len(d.sentences) for d in docs)
    model_path = resolve_model_path(args.model)
    model = load_model(args.model, threads=threads)
    has_events = bool(getattr(model, "has_event_extractor", False))
    runtime = getattr(model, "_runtime", None)
    ort_threads = runtime.session.get_session_options().intra_op_num_threads if runtime is not None else None
    print(f"{len(docs)} documents, {n} sentences (test split of {args.corpus}); model {model_path}")
    if not has_events:
        print("NOTE: this model has no event extractor: 'with events' and '--no-events' run the same work")

    contenders: dict[str, Contender] = {WITH_EVENTS: cli_path(model, True), NO_EVENTS: cli_path(model, False)}
    if has_events:
        contenders[GRAPH] = graph_only(model, docs)
        if args.in_line:
            contenders[IN_LINE] = cli_path(model, True, prefetch=0)
    torch_threads = None
    if args.torch_checkpoint is None:
        print(f"'{TORCH}' skipped: no --torch-checkpoint given (the fp32 checkpoint kept beside the model)")
    elif not args.torch_checkpoint.is_dir():
        print(f"'{TORCH}' skipped: no checkpoint folder at {args.torch_checkpoint}")
    else:
        import torch

        torch.set_num_threads(threads)
        torch_threads = torch.get_num_threads()
        max_length = int(getattr(model.config, "max_length", 128))
        contenders[TORCH] = torch_plain_loop(args.torch_checkpoint, max_length)
    print(f"threads: onnxruntime session {ort_threads} intra-op (1 inter-op), torch {torch_threads}")

    measured = interleaved(contenders, docs, args.rounds)
    rates: dict[str, list[float]] = measured["rates"]
    medians = {name: float(np.median(values)) for name, values in rates.items()}
    ratios = {
        "events_over_torch": ratio(rates, WITH_EVENTS, TORCH),
        "events_over_no_events": ratio(rates, WITH_EVENTS, NO_EVENTS),
        "graph_over_torch": ratio(rates, GRAPH, TORCH),
        "events_over_graph": ratio(rates, WITH_EVENTS, GRAPH),
        "events_over_in_line": ratio(rates, WITH_EVENTS, IN_LINE),
    }
    load = os.getloadavg()
    print(f"medians of {args.rounds} interleaved rounds, load average {load[0]:.2f} (1 min)")
    for name, value in medians.items():
        print(f"  {name:26s} {value:9.1f} sentences/s  ({measured['events_found'][name]} events)")

    def show(label: str, value: float | None, bar: float, unit: str = "x", below: bool = False) -> bool | None:
        if value is None:
            print(f"  {label:38s} not measured")
            return None
        ok = value < bar if below else value >= bar
        verdict = "met" if ok else "NOT met"
        print(f"  {label:38s} {value:8.2f}{unit}  (bar {'<' if below else '>='} {bar:g}{unit}: {verdict})")
        return ok

    passed = {
        "events_over_torch": show(
            "ratio a/c (events / pytorch fp32)", ratios["events_over_torch"], BARS["events_over_torch"]
        ),
        "events_over_no_events": show(
            "ratio a/b (events / --no-events)", ratios["events_over_no_events"], BARS["events_over_no_events"]
        ),
    }
    for key, label in (
        ("graph_over_torch", "ceiling d/c (graph only / pytorch fp32)"),
        ("events_over_graph", "a/d"),
        ("events_over_in_line", "a/e (graph ahead / in line)"),
    ):
        value = ratios[key]
        print(f"  {label:38s} " + (f"{value:8.2f}x" if value is not None else "not measured"))
    paragraphs = [" ".join(d.texts) for d in whole_split[:RSS_PARAGRAPHS]]  # whatever --limit says
    rss = {
        "events": peak_rss_mb(args.model, paragraphs, no_events=False),
        "no_events": peak_rss_mb(args.model, paragraphs, no_events=True),
    }
    size = folder_mb(model_path)
    print(f"threatevents tag on a {len(paragraphs)}-paragraph text file:")
    passed["peak_rss_events"] = show("peak RSS with events", rss["events"], BARS["peak_rss_mb"], " MB", below=True)
    passed["peak_rss_no_events"] = show(
        "peak RSS with --no-events", rss["no_events"], BARS["peak_rss_mb"], " MB", below=True
    )
    passed["model_mb"] = show(f"model folder {model_path.name}", size, BARS["model_mb"], " MB", below=True)

    if args.json:
        result = {
            "model": str(model_path),
            "torch_checkpoint": str(args.torch_checkpoint) if args.torch_checkpoint else None,
            "documents": len(docs),
            "sentences": n,
            "rounds": args.rounds,
            "threads": {"onnxruntime_intra_op": ort_threads, "torch": torch_threads},
            "load_average": [round(x, 2) for x in load],
            "sentences_per_s": {k: round(v, 1) for k, v in medians.items()},
            "sentences_per_s_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "events_found": measured["events_found"],
            "ratios": {k: (round(v, 3) if v is not None else None) for k, v in ratios.items()},
            "peak_rss_mb": {k: round(v, 1) for k, v in rss.items()},
            "rss_paragraphs": len(paragraphs),
            "model_mb": round(size, 2),
            "bars": BARS,
            "bars_met": passed,
            "environment": describe_environment(),
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
