"""Batch tagging: a plain loop in one process vs ``tag-batch --engine local`` vs ``--engine ray``.

Synthetic documents (seeded; ~16 sentences each, written for this benchmark) are written as JSONL shards
and tagged by each engine in interleaved rounds, so that every ratio compares runs made under the same
machine load. Reported: sentences/s (median over rounds), ratios, peak RSS of the driver and of each
worker (process of the local pool, Ray actor), and a projection on paper from the measured rate per
core: documents per hour per core and the cores needed for 10 million reports a day.

* plain: this process, the model loaded once with onnxruntime's default threads (all cores), documents
  ingested and tagged 64 at a time (``ingest_text`` + ``tag_documents`` without indicators: the work
  tag-batch does).
* local: ``tag_batch(engine="local")``, one process per core at 1 thread each; the time includes starting
  the pool and loading the model in each worker.
* ray: ``tag_batch(engine="ray")`` on a local Ray cluster (127.0.0.1 only) started once before the rounds;
  the time excludes the cluster start (reported apart) but includes starting the actors.

Every engine's rows are checked equal to the plain loop's.

    python benchmarks/bench_batch.py                 # 2,000 documents, 3 rounds, every engine
    python benchmarks/bench_batch.py --docs 300 --rounds 1 --engines plain,local
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import REPO_ROOT

sys.path.insert(0, str(REPO_ROOT / "src"))

from threatevents.batch import available_cores, read_sentences, tag_batch
from threatevents.ingest import ingest_text
from threatevents.models import load_model
from threatevents.tagging import tag_documents

SENTENCES = [
    "Hackers stole the personal records of {n} customers from the {org} database.",
    "The {org} breach exposed names, addresses and card numbers.",
    "Employees at {org} received phishing emails that imitated a payroll notice.",
    "Ransomware encrypted the servers of {org} and the attackers demanded {n} dollars in bitcoin.",
    "Researchers disclosed a vulnerability in the {org} VPN appliance that allows remote code execution.",
    "{org} released a security update that fixes the flaw.",
    "The company said it had informed the regulator and hired an outside firm.",
    "Shares of {org} closed slightly lower on Tuesday.",
    "A spokesperson declined to comment on the number of affected systems.",
    "The attack began with a malicious attachment opened by an employee in the finance department.",
    "Customers were advised to change their passwords and watch for suspicious messages.",
    "The vendor credited an independent researcher with finding the issue.",
]
ORGS = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Cyberdyne"]


def synthetic_docs(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        org = rng.choice(ORGS)
        body = " ".join(
            rng.choice(SENTENCES).format(n=rng.randint(100, 99_999), org=org) for _ in range(rng.randint(8, 24))
        )
        docs.append({"id": f"doc-{i:06d}", "title": f"{org} incident {i}", "text": body})
    return docs


class RssWatcher:
    """Samples the RSS of this process's descendants every 0.2 s; keeps each process's peak and name."""

    def __init__(self) -> None:
        import psutil

        self.psutil = psutil
        self.peaks: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = self.psutil.Process()
        while not self._stop.wait(0.2):
            for child in me.children(recursive=True):
                try:
                    name = " ".join(child.cmdline())[:300] or child.name()
                    rss = child.memory_info().rss / 2**20
                except (self.psutil.NoSuchProcess, self.psutil.AccessDenied):
                    continue
                old = self.peaks.get(child.pid, (name, 0.0))
                self.peaks[child.pid] = (child.name() if child.name().startswith("ray::") else name, max(old[1], rss))

    def __enter__(self) -> RssWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def workers(self, marker: str) -> list[float]:
        return sorted(rss for name, rss in self.peaks.values() if marker in name)


def run_plain(model: Any, docs: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(docs), 64):
        chunk = [ingest_text(d["text"], name=d["id"], title=d["title"]) for d in docs[start : start + 64]]
        for tagged in tag_documents(model, chunk, indicators=False):
            rows += [(s.document, s.index, s.start, s.end, s.text, list(s.labels)) for s in tagged]
    return rows


def table_rows(out: Path) -> list[tuple[Any, ...]]:
    return [
        (r["doc_id"], r["index"], r["start"], r["end"], r["text"], r["labels"]) for r in read_sentences(out).to_pylist()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000, help="synthetic documents (default 2,000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--engines", default="plain,local,ray", help="comma-separated: plain, local, ray")
    parser.add_argument("--model", default="default", help="model: default, linear or a folder")
    parser.add_argument("--workers", type=int, default=None, help="local processes / ray actors (default: cores)")
    args = parser.parse_args()
    engines = [e for e in args.engines.split(",") if e]
    cores = available_cores()
    workers = args.workers or cores
    docs = synthetic_docs(args.docs)
    tmp = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    shards = tmp / "in"
    shards.mkdir()
    per_shard = max(1, len(docs) // (workers * 4))  # a few units per worker, so that none waits at the end
    for i in range(0, len(docs), per_shard):
        with (shards / f"part-{i // per_shard:04d}.jsonl").open("w", encoding="utf-8") as out:
            out.writelines(json.dumps(d) + "\n" for d in docs[i : i + per_shard])

    model = load_model(args.model) if "plain" in engines else None
    reference = run_plain(model, docs[:1]) if model else None  # warm-up
    sentences = 0
    cluster_start = None
    if "ray" in engines:
        import ray

        from threatevents.batch import _start_local_ray

        started = time.perf_counter()
        _start_local_ray(ray, cores)
        cluster_start = time.perf_counter() - started

    timings: dict[str, list[float]] = {e: [] for e in engines}
    rss: dict[str, list[float]] = {e: [] for e in engines}

    def timed(engine: str, run: Callable[[], list[tuple[Any, ...]]]) -> list[tuple[Any, ...]]:
        with RssWatcher() as watcher:
            started = time.perf_counter()
            rows = run()
            timings[engine].append(time.perf_counter() - started)
        marker = {"local": "spawn_main", "ray": "MapWorker"}.get(engine)  # pool processes, Ray actors
        if marker:
            rss[engine] += watcher.workers(marker)
        return rows

    for round_no in range(args.rounds):
        order = engines[round_no % len(engines) :] + engines[: round_no % len(engines)]
        for engine in order:
            if engine == "plain":
                rows = timed("plain", lambda: run_plain(model, docs))
                reference = rows
            else:
                out = tmp / f"out-{engine}-{round_no}"
                rows = timed(
                    engine,
                    lambda engine=engine, out=out: (
                        tag_batch(str(shards), out, engine=engine, model=args.model, workers=workers),
                        table_rows(out),
                    )[1],
                )
            sentences = len(rows)
            if reference is not None and len(reference) == len(rows) and engine != "plain":
                assert sorted(rows) == sorted(reference), f"{engine} rows differ from the plain loop's"
    if "ray" in engines:
        import ray

        ray.shutdown()

    print(f"{args.docs:,} synthetic documents, {sentences:,} sentences ({sentences / args.docs:.1f} per document)")
    print(f"model {args.model}; {cores} cores; {workers} workers x 1 thread; {args.rounds} interleaved round(s)")
    if cluster_start is not None:
        print(f"ray local cluster start (not counted): {cluster_start:.1f} s")
    rates = {}
    for engine in engines:
        median = statistics.median(timings[engine])
        rates[engine] = sentences / median
        each = ", ".join(f"{t:.1f}" for t in timings[engine])
        peak = f"; peak RSS per worker {min(rss[engine]):.0f}-{max(rss[engine]):.0f} MB" if rss[engine] else ""
        print(
            f"  {engine:6s} {rates[engine]:7.0f} sentences/s  ({args.docs / median:6.1f} docs/s; runs {each} s){peak}"
        )
    print(f"driver peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if "plain" in rates and "local" in rates:
        print(f"  local / plain = {rates['local'] / rates['plain']:.2f}x")
    if "local" in rates and "ray" in rates:
        print(f"  ray / local   = {rates['ray'] / rates['local']:.2f}x")
    base = "local" if "local" in rates else engines[0]
    docs_per_hour_core = rates[base] / (sentences / args.docs) * 3600 / cores
    cores_needed = 10_000_000 / (docs_per_hour_core * 24)
    print(
        f"projection from {base}: {docs_per_hour_core:,.0f} documents/hour per core "
        f"(at {sentences / args.docs:.1f} sentences per document); 10 million reports a day need "
        f"~{cores_needed:,.0f} cores at full use"
    )


if __name__ == "__main__":
    main()
