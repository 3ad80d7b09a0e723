"""What the benchmark scripts (and ``scripts/ship_transformer.py``) share: where the project's data is.

The labelled corpus lives outside the repository, in ``../shared/data`` relative to its root (see the
README); scripts find it from their own location, so they run from any working directory.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
CASIE_SENTENCES = SHARED_DATA / "casie-sentences"
CASIE_EVENTS = SHARED_DATA / "casie-events"
TEXTEE_SPLITS = SHARED_DATA / "textee-casie-splits"


# Runs the command given as arguments and prints its exit code, wall seconds and peak RSS in kilobytes. A child
# forked from a benchmark would start from a copy of its memory (torch loaded: hundreds of MB), and Linux keeps that
# high-water mark across exec; a child of this small process starts small, so the figure is the command's own.
_MEASURE = (
    "import resource, subprocess, sys, time; start = time.perf_counter(); "
    "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); seconds = time.perf_counter() - start; "
    "print(done.returncode, seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def child_seconds_and_rss_mb(command: Sequence[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``command`` run to its end (its output is dropped); a failure raises with
    its stderr."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True, check=True)
    code, seconds, kilobytes = done.stdout.split()
    if code != "0":
        raise RuntimeError(f"{' '.join(command)} exited {code}: {done.stderr[-500:]}")
    return float(seconds), int(kilobytes) / 1024  # ru_maxrss is in kilobytes on Linux


def child_peak_rss_mb(command: Sequence[str]) -> float:
    """Peak RSS (MB) of ``command`` run to its end (its output is dropped); a failure raises with its stderr."""
    return child_seconds_and_rss_mb(command)[1]
