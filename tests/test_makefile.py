"""The Makefile's install lines, read with ``make -n`` (nothing is installed): torch's index is chosen by
``TORCH_INDEX``, and without it the install command is the plain one the README describes."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs GNU make")


def planned(tmp_path: Path, *variables: str, target: str = "setup") -> list[str]:
    """The commands ``make <target>`` would run for a venv that does not exist yet."""
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), target, f"VENV={tmp_path / 'venv'}", *variables],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return [line.strip() for line in done.stdout.splitlines() if line.strip()]


def torch_line(commands: list[str]) -> list[str]:
    lines = [c for c in commands if "pip install" in c and "torch==" in c]
    assert len(lines) == 1, commands
    return lines[0].split()


def test_torch_comes_from_pip_default_index_unless_told(tmp_path: Path) -> None:
    words = torch_line(planned(tmp_path))
    assert "--index-url" not in words and "--extra-index-url" not in words
    assert words[-1] == "torch==2.13.0"


def test_torch_index_picks_the_index_for_torch_only(tmp_path: Path) -> None:
    commands = planned(tmp_path, f"TORCH_INDEX={CPU_INDEX}")
    words = torch_line(commands)
    assert words[words.index("--index-url") + 1] == CPU_INDEX and words[-1] == "torch==2.13.0"
    extras = [c for c in commands if "[train,serve,dev,batch,ray]" in c]
    assert extras and all(CPU_INDEX not in c for c in extras)  # the other packages keep pip's own index


def test_torch_pin_matches_the_train_extra() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "torch==2.13.0" in makefile and '"torch==2.13.0"' in pyproject


def test_bench_passes_a_torch_checkpoint_only_when_given(tmp_path: Path) -> None:
    def bench_models(*variables: str) -> str:
        (line,) = [line for line in planned(tmp_path, *variables, target="bench") if "bench_models.py" in line]
        return line

    assert bench_models().endswith("benchmarks/bench_models.py")
    assert bench_models("TORCH_CHECKPOINT=runs/x/torch").endswith("bench_models.py --torch-checkpoint runs/x/torch")
