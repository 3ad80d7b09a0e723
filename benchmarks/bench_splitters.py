"""Compare sentence splitters on the corpus's own sentence boundaries (dev split), agreement and speed.

Each dev document is rebuilt as the text a reader would see: the headline as its own paragraph, then
the gold sentences joined by single spaces. Every candidate splits that text (line by line, as
:func:`threatevents.ingest.split_sentences` does) and is scored against the gold boundaries:

* boundary precision / recall / F1 (a boundary is the end offset of a sentence, document end excluded);
* exact: the share of gold sentences reproduced exactly (same start and end);
* sentences/s: gold sentences over the best of ``--repeat`` timed runs, each with a fresh splitter
  (nupunkt memoises decisions, so reusing one would time its cache).

Run: ``python benchmarks/bench_splitters.py [--data ../shared/data/casie-sentences] [--split dev]``.
Candidates whose package is not installed are listed as skipped. Exits 0 with a note when the data
is absent.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _common import CASIE_SENTENCES
from threatevents.metrics import count_scores

Spans = list[tuple[int, int]]
Splitter = Callable[[str], Spans]

_LINE = re.compile(r"[^\n]+")


def _pysbd() -> Splitter:
    import pysbd

    seg = pysbd.Segmenter(language="en", clean=False, char_span=True)
    return lambda text: [(s.start, s.end) for s in seg.segment(text)]


def _syntok() -> Splitter:
    from syntok import segmenter

    def split(text: str) -> Spans:
        return [(s[0].offset, s[-1].offset + len(s[-1].value)) for para in segmenter.analyze(text) for s in para if s]

    return split


def _blingfire() -> Splitter:
    import blingfire

    return lambda text: [tuple(o) for o in blingfire.text_to_sentences_and_offsets(text)[1]]  # type: ignore[misc]


def _nupunkt() -> Splitter:
    import nupunkt

    return nupunkt.load_default_model().spans


def _sentencex() -> Splitter:
    import sentencex

    return lambda text: [(b["start_index"], b["end_index"]) for b in sentencex.get_sentence_boundaries("en", text)]


def _spacy() -> Splitter:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return lambda text: [(s.start_char, s.end_char) for s in nlp(text).sents]


def _threatevents() -> Splitter:
    from threatevents.ingest import split_sentences
    from threatevents.ingest.sentences import _punkt

    _punkt.cache_clear()  # a fresh model, like the other candidates: nupunkt memoises its decisions
    return lambda text: [(s.start, s.end) for s in split_sentences(text)]


CANDIDATES: dict[str, Callable[[], Splitter]] = {
    "pysbd": _pysbd,
    "syntok": _syntok,
    "blingfire": _blingfire,
    "nupunkt (default model)": _nupunkt,
    "sentencex": _sentencex,
    "spacy sentencizer": _spacy,
}


def by_line(split: Splitter) -> Splitter:
    """Apply a splitter to each non-empty line, so every candidate gets the same paragraph handling."""

    def run(text: str) -> Spans:
        return [(m.start() + a, m.start() + b) for m in _LINE.finditer(text) for a, b in split(m.group(0))]

    return run


def _per_line(factory: Callable[[], Splitter]) -> Callable[[], Splitter]:
    return lambda: by_line(factory())


def trim(text: str, spans: Spans) -> set[tuple[int, int]]:
    """Spans with surrounding whitespace removed; empty ones dropped."""
    out = set()
    for start, end in spans:
        piece = text[start:end]
        lead = len(piece) - len(piece.lstrip())
        tail = len(piece) - len(piece.rstrip())
        if end - tail > start + lead:
            out.add((start + lead, end - tail))
    return out


def build_documents(data: Path, split: str) -> list[tuple[str, set[tuple[int, int]]]]:
    """(text, gold spans) per document: headline, blank line, then the sentences joined by spaces."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from threatevents.corpus import read_corpus

    docs = []
    for doc in read_corpus(data).split(split):
        texts = doc.texts
        if not texts:
            continue
        parts, gold, pos = [], set(), 0
        for i, sentence in enumerate(texts):
            sep = "" if i == 0 else ("\n\n" if i == 1 else " ")
            pos += len(sep)
            parts.append(sep + sentence)
            gold.add((pos, pos + len(sentence)))
            pos += len(sentence)
        docs.append(("".join(parts), gold))
    return docs


def score(docs: list[tuple[str, set[tuple[int, int]]]], split: Splitter) -> tuple[float, float, float, float, int]:
    """Boundary precision, recall, F1, exact-sentence match and number of predicted sentences."""
    tp = n_pred = n_gold = exact = total = 0
    for text, gold in docs:
        pred = trim(text, split(text))
        gold_b = {end for _, end in gold} - {len(text)}
        pred_b = {end for _, end in pred} - {len(text)}
        tp += len(gold_b & pred_b)
        n_pred += len(pred_b)
        n_gold += len(gold_b)
        exact += len(gold & pred)
        total += len(pred)
    boundaries = count_scores(tp, n_pred, n_gold)
    return boundaries.precision, boundaries.recall, boundaries.f1, exact / sum(len(g) for _, g in docs), total


def speed(docs: list[tuple[str, set[tuple[int, int]]]], factory: Callable[[], Splitter], repeat: int) -> float:
    """Gold sentences per second, best of ``repeat`` runs, each with a fresh splitter (no warm caches)."""
    n = sum(len(g) for _, g in docs)
    best = float("inf")
    for _ in range(repeat):
        split = factory()
        split("Warm up. Twice.")
        t0 = time.perf_counter()
        for text, _ in docs:
            split(text)
        best = min(best, time.perf_counter() - t0)
    return n / best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=CASIE_SENTENCES)
    parser.add_argument("--split", default="dev")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    if not (args.data / "splits.json").is_file():
        print(f"skipped: no corpus at {args.data} (needs ../shared/data)")
        return 0
    docs = build_documents(args.data, args.split)
    n_gold = sum(len(g) for _, g in docs)
    print(f"{len(docs)} {args.split} documents, {n_gold} gold sentences\n")
    print(f"{'splitter':<28}{'P':>7}{'R':>7}{'F1':>7}{'exact':>8}{'pred':>7}{'sent/s':>10}")
    for name, factory in [*CANDIDATES.items(), ("threatevents.split_sentences", _threatevents)]:
        try:
            split = factory()
        except ImportError as exc:
            print(f"{name:<28}skipped ({exc.name} not installed)")
            continue
        if factory is not _threatevents:
            factory, split = _per_line(factory), by_line(split)
        rate = speed(docs, factory, args.repeat)
        p, r, f1, exact, n_pred = score(docs, split)
        print(f"{name:<28}{p:>7.3f}{r:>7.3f}{f1:>7.3f}{exact:>8.3f}{n_pred:>7}{rate:>10,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
