"""Start-up cost of ``threatevents tag`` on a short report: wall time and peak RSS of one fresh process per call,
this checkout against another revision, side by side in interleaved rounds.

    python benchmarks/bench_startup.py [--baseline REV] [--rounds 5] [--report FILE] [--json F]

A short report is what an analyst tags by hand and what a pipeline tags once per file, so the process's start-up
(imports, model load) is most of its cost. Each round runs, for each shipped model (``default``, ``events``) and
each tree, one ``threatevents tag report.txt --model M`` process; trees alternate within a round (the first
rotates), so both see the same machine. ``--baseline REV`` is checked out in a temporary git worktree and run by the
same Python with its ``src`` first on ``sys.path`` (its own shipped models included); without it only this checkout
is measured. Prints the median seconds and peak RSS per model and tree, and the ratios baseline / this checkout
(above 1: this checkout starts faster or smaller). ``--report FILE`` tags that file instead of the built-in two
sentences (a long one measures the memory of tagging, not only of starting).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from _common import REPO_ROOT, child_seconds_and_rss_mb

MODELS = ("default", "events")
REPORT = (
    "Hackers stole the names and card numbers of 40,000 customers from a retailer's payment servers.\n\n"
    "The vendor released a patch for the remote code execution flaw in its VPN appliance on Tuesday.\n"
)
# Runs the CLI from the source tree given as the first argument (ahead of the installed package).
_LAUNCH = "import sys; sys.path.insert(0, sys.argv.pop(1)); from threatevents.cli import app; app()"


def tag_command(src: Path, report: Path, model: str, out: Path) -> list[str]:
    return [sys.executable, "-c", _LAUNCH, str(src), "tag", str(report), "--model", model, "-o", str(out)]


def measure(
    trees: dict[str, Path], rounds: int, workdir: Path, report: Path | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """Per model and tree: the median wall seconds and peak RSS (MB) over ``rounds`` interleaved processes, each
    tagging ``report`` (default: the built-in :data:`REPORT`)."""
    if report is None:
        report = workdir / "report.txt"
        report.write_text(REPORT, encoding="utf-8")
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {(m, t): [] for m in MODELS for t in trees}
    names = list(trees)
    for round_ in range(rounds):
        for model in MODELS:
            for name in names[round_ % len(names) :] + names[: round_ % len(names)]:  # who goes first rotates
                src = trees[name]
                out = workdir / f"{name}-{model}.jsonl"
                out.unlink(missing_ok=True)  # what is checked below is this run's output, not the last round's
                samples[model, name].append(child_seconds_and_rss_mb(tag_command(src, report, model, out)))
                if not out.read_text(encoding="utf-8").strip():
                    raise RuntimeError(f"{name} tagged nothing with --model {model}")
    return {
        model: {
            name: {
                "seconds": round(statistics.median(s for s, _ in samples[model, name]), 3),
                "peak_rss_mb": round(statistics.median(r for _, r in samples[model, name]), 1),
            }
            for name in trees
        }
        for model in MODELS
    }


def ratios(figures: dict[str, dict[str, dict[str, float]]], baseline: str) -> dict[str, dict[str, float]]:
    """Per model: baseline over this checkout, for time and for peak RSS."""
    return {
        model: {
            f"{key}_baseline_over_now": round(trees[baseline][key] / trees["now"][key], 2)
            for key in ("seconds", "peak_rss_mb")
        }
        for model, trees in figures.items()
    }


def worktree(revision: str, folder: Path) -> Path:
    subprocess.run(
        ["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", "--force", str(folder), revision],
        check=True,
        capture_output=True,
    )
    return folder / "src"


def remove_worktree(folder: Path) -> None:
    """Remove the baseline's worktree, and prune git's record of it if the folder is already gone; a failure is
    reported, not raised (the figures are what the run is for)."""
    git = ["git", "-C", str(REPO_ROOT), "worktree"]
    done = subprocess.run([*git, "remove", "--force", str(folder)], check=False, capture_output=True, text=True)
    subprocess.run([*git, "prune"], check=False, capture_output=True)
    if done.returncode and folder.exists():
        print(f"warning: could not remove the worktree {folder}: {done.stderr.strip()}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="a git revision to measure against this checkout")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--report", type=Path, help="tag this file instead of the built-in two sentences")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.report and not args.report.is_file():
        parser.error(f"--report {args.report} is not a file")
    if args.baseline is not None and args.baseline.strip() in ("", "now"):
        parser.error("--baseline needs a git revision (and 'now' names this checkout)")
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": REPO_ROOT / "src"}
        try:
            if args.baseline:
                try:
                    trees[args.baseline] = worktree(args.baseline, Path(tmp) / "baseline")
                except subprocess.CalledProcessError as exc:
                    parser.error(f"--baseline {args.baseline}: {exc.stderr.decode(errors='replace').strip()}")
            figures = measure(trees, args.rounds, Path(tmp), args.report)
        finally:
            if args.baseline:
                remove_worktree(Path(tmp) / "baseline")
    text = args.report.read_text(encoding="utf-8", errors="replace") if args.report else REPORT
    result: dict[str, Any] = {"rounds": args.rounds, "report_words": len(text.split()), "figures": figures}
    print(f"threatevents tag, a {len(text.split()):,}-word report, one process per call; median of {args.rounds}")
    for model, per_tree in figures.items():
        for name, fig in per_tree.items():
            print(f"  --model {model:<8} {name:<12} {fig['seconds']:6.2f} s  {fig['peak_rss_mb']:7.1f} MB peak RSS")
    if args.baseline:
        result["baseline"] = args.baseline
        result["ratios"] = ratios(figures, args.baseline)
        for model, r in result["ratios"].items():
            print(
                f"  --model {model:<8} {args.baseline} / now: time {r['seconds_baseline_over_now']:.2f}x, "
                f"peak RSS {r['peak_rss_mb_baseline_over_now']:.2f}x"
            )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return result


if __name__ == "__main__":
    main()
