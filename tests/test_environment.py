"""What a measurement ran on: CPU features read from a cpuinfo file, package versions, a JSON-ready whole."""

from __future__ import annotations

import json
from pathlib import Path

import threatevents
from threatevents.environment import (
    CPU_FEATURES,
    MAX_CPUINFO_BYTES,
    cpu_features,
    describe_environment,
    package_versions,
)

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni fma amx_int8
bugs\t\t: sysret_ss_attrs

processor\t: 1
flags\t\t: fpu sse2 avx2 avx512f avx512_vnni fma amx_int8 amx_bf16
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd evtstrm aes asimddp i8mm sve
"""


def _write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "cpuinfo"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_cpu_features_reads_the_first_processor_in_a_fixed_order(tmp_path: Path) -> None:
    assert cpu_features(_write(tmp_path, X86)) == ["avx2", "avx512f", "avx512_vnni", "amx_int8"]  # not amx_bf16
    assert cpu_features(_write(tmp_path, ARM)) == ["asimd", "asimddp", "i8mm", "sve"]
    assert cpu_features(_write(tmp_path, "flags\t: fpu sse2\n")) == []  # a CPU without any of them


def test_cpu_features_is_none_where_nothing_can_be_read(tmp_path: Path) -> None:
    assert cpu_features(tmp_path / "missing") is None
    assert cpu_features(tmp_path) is None  # a folder, not a file
    assert cpu_features(_write(tmp_path, "processor : 0\nmodel name : x\n")) is None  # no flags line
    assert cpu_features(_write(tmp_path, b"\xff\xfe\x00flags")) is None  # bytes, no "name: value" line
    assert cpu_features(_write(tmp_path, "")) is None


def test_cpu_features_reads_a_bounded_prefix_of_a_huge_file(tmp_path: Path) -> None:
    filler = "x" * 80 + "\n"
    lying = filler * (MAX_CPUINFO_BYTES // len(filler) + 1) + "flags : avx2\n"
    assert cpu_features(_write(tmp_path, lying)) is None  # the flags line lies past the part read
    assert cpu_features(_write(tmp_path, "flags : avx2\n" + lying)) == ["avx2"]


def test_package_versions_read_installed_metadata() -> None:
    versions = package_versions(("threatevents", "numpy", "no-such-distribution-xyz"))
    assert versions["threatevents"] == threatevents.__version__
    assert versions["numpy"] is not None and versions["numpy"][0].isdigit()
    assert versions["no-such-distribution-xyz"] is None


def test_describe_environment_is_plain_json(tmp_path: Path) -> None:
    described = describe_environment(_write(tmp_path, X86))
    assert json.loads(json.dumps(described)) == described
    assert described["cpu_features"] == ["avx2", "avx512f", "avx512_vnni", "amx_int8"]
    assert set(described["packages"]) >= {"threatevents", "onnxruntime", "numpy"}
    assert described["python"].count(".") == 2 and described["machine"]
    assert set(described["cpu_features"]) <= set(CPU_FEATURES)
