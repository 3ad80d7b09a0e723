"""What a measurement ran on: the package versions and CPU features that can move a model's scores and speed.

The int8 graphs are served by onnxruntime, whose integer kernels differ between releases (measured: the shipped
``events`` model scores differently under onnxruntime 1.24 and 1.32 on one machine) and, by onnxruntime's own
documentation, between CPUs with and without AVX-512 VNNI, AVX-VNNI or AMX (not measured here): the same model and
the same articles can score differently on another machine (docs/event-extractor.md gives the figures).
Evaluation results and benchmark files therefore say what they ran on (:func:`describe_environment`), so that
a figure can be traced and compared with like.

Versions are read from the installed distributions' metadata, so nothing here imports onnxruntime or torch.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import Any

#: The CPU features that select integer (and bf16) kernels, as Linux's ``/proc/cpuinfo`` names them.
CPU_FEATURES = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "i8mm",
    "sve",
)
#: The distributions whose versions are reported.
PACKAGES = ("threatevents", "onnxruntime", "numpy", "tokenizers", "scikit-learn", "torch")
CPUINFO = Path("/proc/cpuinfo")
#: At most this much of the CPU description is read (a real one is far shorter per processor; only the first
#: processor's flags are needed).
MAX_CPUINFO_BYTES = 1 << 20


def cpu_features(cpuinfo: Path = CPUINFO) -> list[str] | None:
    """The :data:`CPU_FEATURES` the first processor in ``cpuinfo`` has, in that order; ``None`` where the file is
    missing or unreadable, or holds no ``flags`` (x86) or ``Features`` (Arm) line (not Linux, say)."""
    try:
        with cpuinfo.open("rb") as handle:
            text = handle.read(MAX_CPUINFO_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in ("flags", "Features"):
            present = set(value.split())
            return [feature for feature in CPU_FEATURES if feature in present]
    return None


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """The installed version of each distribution in ``names`` (``None`` when it is not installed)."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def describe_environment(cpuinfo: Path = CPUINFO) -> dict[str, Any]:
    """A JSON-ready description: Python version, machine architecture, CPU features (:func:`cpu_features`) and
    package versions (:func:`package_versions`)."""
    return {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu_features": cpu_features(cpuinfo),
        "packages": package_versions(),
    }
