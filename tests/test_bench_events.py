"""benchmarks/bench_events.py: the parts whose mistakes would give wrong figures silently."""

from __future__ import annotations

import sys
from types import ModuleType

import pytest

from conftest import benchmark_script


def bench_events() -> ModuleType:
    return benchmark_script("bench_events")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss is in kilobytes on Linux only")
def test_peak_rss_is_the_commands_own_not_the_benchmarks() -> None:
    """A child forked from a big process reported the parent's memory (Linux keeps the high-water mark across
    exec): with 400 MB held here, a bare Python must still measure tens of MB."""
    bench = bench_events()
    ballast = b"x" * (400 * 2**20)
    small = bench.child_peak_rss_mb([sys.executable, "-c", "pass"])
    big = bench.child_peak_rss_mb([sys.executable, "-c", "b = b'x' * (200 * 2**20)"])
    assert len(ballast) == 400 * 2**20
    assert small < 100 and 200 < big < 350
    with pytest.raises(RuntimeError, match="exited 3"):
        bench.child_peak_rss_mb([sys.executable, "-c", "import sys; sys.exit(3)"])


def test_documents_are_handed_over_as_ingestion_would() -> None:
    bench = bench_events()
    (doc,) = bench.as_ingested([["Hackers stole data.", "A patch fixed it."]], ["d1"])
    assert doc.name == "d1" and doc.texts == ["Hackers stole data.", "A patch fixed it."]
    assert all(doc.text[s.start : s.end] == s.text for s in doc.sentences)


def test_rounds_rotate_the_order_and_ratios_pair_rates_of_the_same_round() -> None:
    bench = bench_events()
    order: list[str] = []

    def contender(name: str):  # type: ignore[no-untyped-def]
        return lambda docs: order.append(name) or 0

    docs = bench.as_ingested([["One."], ["Two."], ["Three."], ["Four."]], ["a", "b", "c", "d"])
    measured = bench.interleaved({n: contender(n) for n in "xyz"}, docs, rounds=3)
    assert order[3:] == list("xyzyzxzxy")  # after one warm-up call each
    assert all(len(v) == 3 for v in measured["rates"].values())
    rates = {"a": [10.0, 1.0, 4.0], "b": [5.0, 1.0, 1.0]}
    assert bench.ratio(rates, "a", "b") == 2.0 and bench.ratio(rates, "a", "c") is None


def test_graph_only_runs_exactly_the_windows_the_events_pass_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ceiling contender must time the same encoder inputs as tagging with events: the cascade's cut included."""
    from threatevents.models import load_model

    bench = bench_events()
    model = load_model("events")
    texts = [
        "Hackers stole the records of 40,000 patients from the clinic.",
        "The weather in the city was mild for the season.",
        "The vendor released a patch for the flaw on Tuesday.",
        "She enjoyed the concert and the food afterwards.",
    ]
    docs = bench.as_ingested([texts, texts[::-1]], ["d1", "d2"])
    kept = bench.kept_windows(model, docs)
    seen: list[tuple[list[int], list[int]]] = []
    real = model._runtime.batches

    def spy(encoded, names, ahead=0):  # type: ignore[no-untyped-def]
        seen.extend(encoded)
        return real(encoded, names, ahead)

    monkeypatch.setattr(model._runtime, "batches", spy)
    model.predict_proba_and_events([d.texts for d in docs])
    assert seen == kept
    assert 0 < len(kept) < 8  # the cascade skipped some sentences of these documents, not all
    assert bench.graph_only(model, docs)(docs) == 0


def test_in_line_contender_sets_the_prefetch_for_its_own_calls_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from threatevents import tagging
    from threatevents.models import transformer

    bench = bench_events()
    seen: list[int] = []
    monkeypatch.setattr(tagging, "tag_documents", lambda model, docs: seen.append(transformer.EVENTS_PREFETCH) or [])

    class Model:
        events_enabled = False

    shipped = transformer.EVENTS_PREFETCH
    assert shipped > 0
    bench.cli_path(Model(), True, prefetch=0)([])
    bench.cli_path(Model(), True)([])
    assert seen == [0, shipped]
    assert shipped == transformer.EVENTS_PREFETCH  # restored
