"""Compare IOC extractors on a hand-labelled sample: precision / recall per indicator type, and speed.

The sample (``benchmarks/ioc_sample.jsonl``, written for this benchmark, not taken from any corpus) holds
62 sentences in the style of threat reports with the indicators a reader would list, including defanged
forms (``hxxps[:]//``, ``1.2.3[.]4``, ``user[@]example[.]com``) and prose look-alikes that are *not*
indicators: version numbers after "version"/"v"/"build", file names whose extension is a TLD
(``payload.zip``), ``ASP.NET``, ``e.g.``, a missing space after a full stop (``week.It``).

Labelling conventions: a domain that is only the host of a URL or e-mail is not listed on its own; URLs
lose sentence punctuation glued to their end; an address in a CIDR range (``10.0.0.0/8``) counts as an IPv4.

Candidates, all scored on canonical values (:func:`threatevents.indicators.canonical_value`):

* ``iocextract``: ``extract_iocs(refang=True)`` split by its per-type extractors (no domains, no CVE ids);
* ``ioc-finder``: ``find_iocs`` with default options;
* ``threatevents``: :func:`threatevents.indicators.extract_indicators` (ioc-finder + our post-processing).
  Its filters were written looking at this sample, so its figures here are optimistic.

Speed is sample sentences per second, best of ``--repeat`` passes after a warm-up. With ``--data`` (a
corpus folder such as ``../shared/data/casie-sentences``) it also times every candidate on the real
sentences of that corpus's dev split and counts what each finds (no labels there, so no scores).

Run: ``python benchmarks/bench_ioc_extractors.py [--repeat 5] [--data ../shared/data/casie-sentences]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from threatevents.indicators import INDICATOR_TYPES, canonical_value, extract_indicators
from threatevents.metrics import count_scores

Found = set[tuple[str, str]]
Extractor = Callable[[str], Found]

SAMPLE = Path(__file__).with_name("ioc_sample.jsonl")


def _canonical(pairs: list[tuple[str, str]]) -> Found:
    return {(ioc_type, canonical_value(ioc_type, value)) for ioc_type, value in pairs}


def _iocextract() -> Extractor:
    import iocextract

    per_type: list[tuple[str, Callable[[str], Iterable[str]]]] = [
        ("url", lambda t: iocextract.extract_urls(t, refang=True)),
        ("ipv4", lambda t: iocextract.extract_ipv4s(t, refang=True)),
        ("ipv6", iocextract.extract_ipv6s),
        ("email", lambda t: iocextract.extract_emails(t, refang=True)),
        ("md5", iocextract.extract_md5_hashes),
        ("sha1", iocextract.extract_sha1_hashes),
        ("sha256", iocextract.extract_sha256_hashes),
        ("sha512", iocextract.extract_sha512_hashes),
    ]
    return lambda text: _canonical([(name, value) for name, fn in per_type for value in fn(text)])


def _ioc_finder() -> Extractor:
    from ioc_finder import find_iocs

    from threatevents.indicators import _FINDER_TYPES as keys  # the same key mapping, unfiltered

    def extract(text: str) -> Found:
        found = find_iocs(text)
        return _canonical([(name, str(value)) for key, name in keys.items() for value in found.get(key, ())])

    return extract


def _threatevents() -> Extractor:
    return lambda text: {(ind.type, ind.value) for ind in extract_indicators(text)}


CANDIDATES: dict[str, Callable[[], Extractor]] = {
    "iocextract": _iocextract,
    "ioc-finder": _ioc_finder,
    "threatevents": _threatevents,
}


def load_sample(path: Path = SAMPLE) -> list[tuple[str, Found]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["text"], {(t, v) for t, v in row["iocs"]}) for row in rows]


def sentences_per_second(extract: Extractor, texts: list[str], repeat: int) -> float:
    for text in texts:  # warm-up (imports, compiled grammars, caches)
        extract(text)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for text in texts:
            extract(text)
        best = min(best, time.perf_counter() - started)
    return len(texts) / best


def score(extract: Extractor, sample: list[tuple[str, Found]]) -> tuple[dict[str, Counter[str]], list[str]]:
    """Per type tp/fp/fn counts, and a line for every mistake."""
    counts: dict[str, Counter[str]] = {name: Counter() for name in INDICATOR_TYPES}
    mistakes = []
    for text, expected in sample:
        got = extract(text)
        for ioc_type, value in got | expected:
            outcome = "tp" if (ioc_type, value) in got & expected else "fp" if (ioc_type, value) in got else "fn"
            counts[ioc_type][outcome] += 1
            if outcome != "tp":
                mistakes.append(f"  {outcome} {ioc_type:6} {value!r:45.45} in {text[:60]!r}")
    return counts, mistakes


def _cells(c: Counter[str]) -> str:
    """Gold count, precision and recall ("-" where nothing was found, or nothing was to be found)."""
    scores = count_scores(c["tp"], c["tp"] + c["fp"], c["tp"] + c["fn"])
    precision = f"{scores.precision:.2f}" if c["tp"] + c["fp"] else "  - "
    recall = f"{scores.recall:.2f}" if scores.support else "  - "
    return f"{scores.support:4} {precision:>5} {recall:>5}"


def print_scores(name: str, counts: dict[str, Counter[str]]) -> None:
    print(f"\n{name}")
    print(f"  {'type':8} {'gold':>4} {'P':>5} {'R':>5}")
    total: Counter[str] = Counter()
    for ioc_type in INDICATOR_TYPES:
        total.update(counts[ioc_type])
        print(f"  {ioc_type:8} {_cells(counts[ioc_type])}")
    print(f"  {'all':8} {_cells(total)}")


def corpus_sentences(path: Path, split: str) -> list[str]:
    from threatevents.corpus import read_corpus

    corpus = read_corpus(path)
    docs = corpus.split(split) if corpus.has_split(split) else list(corpus)
    return [text for doc in docs for text in doc.texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed passes; the best one counts")
    parser.add_argument("--data", type=Path, help="optional corpus folder to time on real sentences")
    parser.add_argument("--split", default="dev", help="split of --data to use")
    parser.add_argument("--mistakes", action="store_true", help="list every false positive / negative")
    args = parser.parse_args()

    sample = load_sample()
    texts = [text for text, _ in sample]
    real = corpus_sentences(args.data, args.split) if args.data else []
    print(f"sample: {len(sample)} sentences, {sum(len(e) for _, e in sample)} indicators")
    speeds = []
    for name, factory in CANDIDATES.items():
        try:
            extract = factory()
        except ImportError as error:
            print(f"\n{name}: skipped ({error})")
            continue
        counts, mistakes = score(extract, sample)
        print_scores(name, counts)
        if args.mistakes:
            print("\n".join(mistakes))
        row = [name, f"{sentences_per_second(extract, texts, args.repeat):,.0f}"]
        if real:
            found = Counter(ioc_type for text in real for ioc_type, _ in extract(text))
            row += [f"{sentences_per_second(extract, real, 1):,.0f}", str(dict(sorted(found.items())))]
        speeds.append(row)
    print(
        "\nspeed (sentences/s, one core)"
        + (f"; real: {len(real)} {args.split} sentences of {args.data}" if real else "")
    )
    for row in speeds:
        print("  " + "  ".join(f"{cell!s:>12}" for cell in row))


if __name__ == "__main__":
    main()
