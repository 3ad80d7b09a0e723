"""benchmarks/bench_startup.py: each tree is really the one run, and the baseline's worktree is cleaned up."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from conftest import benchmark_script

BENCH = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_startup.py"
ROOT = BENCH.parents[1]


def bench_startup() -> ModuleType:
    return benchmark_script("bench_startup")


def test_the_command_runs_the_given_tree_not_the_installed_package(tmp_path: Path) -> None:
    """Were the installed package found first, a baseline would silently measure this checkout (ratio ~1)."""
    bench = bench_startup()
    fake = tmp_path / "src" / "threatevents"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "cli.py").write_text("import sys\ndef app():\n    open(sys.argv[-1], 'w').write(repr(sys.argv[1:]))\n")
    out = tmp_path / "out.jsonl"
    subprocess.run(bench.tag_command(tmp_path / "src", tmp_path / "r.txt", "events", out), check=True)
    assert out.read_text() == repr(["tag", str(tmp_path / "r.txt"), "--model", "events", "-o", str(out)])


@pytest.mark.parametrize("baseline", ["now", "", " ", "no-such-revision-0123"])
def test_a_baseline_that_is_no_revision_is_refused(baseline: str) -> None:
    """``now`` would overwrite this checkout's figures (ratios of 1.0, silently), an empty name measures nothing, and
    git's refusal of an unknown revision is a usage error; no worktree is left behind."""
    before = _worktrees()
    with pytest.raises(SystemExit):
        bench_startup().main(["--baseline", baseline])
    assert _worktrees() == before


def _worktrees() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "worktree", "list"], capture_output=True, text=True).stdout


def test_ratios_are_baseline_over_now() -> None:
    bench = bench_startup()
    figures = {"events": {"now": {"seconds": 2.0, "peak_rss_mb": 200.0}, "v1": {"seconds": 3.0, "peak_rss_mb": 300.0}}}
    assert bench.ratios(figures, "v1") == {
        "events": {"seconds_baseline_over_now": 1.5, "peak_rss_mb_baseline_over_now": 1.5}
    }


@pytest.mark.slow
def test_runs_both_trees_and_removes_the_worktree(tmp_path: Path) -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: no revision to measure against")

    before = _worktrees()
    bench = bench_startup()
    result = bench.main(["--baseline", "HEAD", "--rounds", "1", "--json", str(tmp_path / "startup.json")])
    assert json.loads((tmp_path / "startup.json").read_text()) == result
    for model in bench.MODELS:
        assert set(result["figures"][model]) == {"now", "HEAD"}
        assert all(v > 0 for v in result["ratios"][model].values())
    assert _worktrees() == before  # the baseline's worktree is gone again
