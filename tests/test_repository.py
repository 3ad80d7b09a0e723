"""The repository's own rules, read from its files: the import-linter contracts that ``make lint`` runs can run
with the oldest import-linter the ``dev`` extra allows, and the data folder's location is written once for the
scripts (``benchmarks/_common.py``) and once for the tests (``tests/conftest.py``)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: The first import-linter release that knows each contract type the project uses (older ones stop with
#: "Contract type not recognised"); the built-in types older than 2.1 are not listed.
CONTRACT_TYPE_SINCE = {"acyclic_siblings": "2.6"}


def test_the_dev_extra_allows_no_import_linter_without_the_configured_contract_types() -> None:
    (requirement,) = (
        Requirement(r) for r in PYPROJECT["project"]["optional-dependencies"]["dev"] if r.startswith("import-linter")
    )
    types = {contract["type"] for contract in PYPROJECT["tool"]["importlinter"]["contracts"]}
    for contract_type in types & CONTRACT_TYPE_SINCE.keys():
        since = CONTRACT_TYPE_SINCE[contract_type]
        older = [v for v in ("2.1", "2.3", "2.5") if Version(v) < Version(since)]  # releases without the type
        allowed = [v for v in older if requirement.specifier.contains(v)]
        assert not allowed, f"{requirement} allows import-linter {allowed}, which has no {contract_type!r} contract"


DATA_LOCATION = re.compile(r"""["']shared["']\s*/\s*["']data["']""")


def test_the_data_location_is_written_once_for_scripts_and_once_for_tests() -> None:
    places = sorted(
        str(path.relative_to(ROOT))
        for folder in ("benchmarks", "scripts", "tests", "src")
        for path in (ROOT / folder).rglob("*.py")
        if DATA_LOCATION.search(path.read_text(encoding="utf-8"))
    )
    assert places == ["benchmarks/_common.py", "tests/conftest.py"], (
        "take the data folder from benchmarks/_common.py (scripts) or tests/conftest.py (tests), do not write it again"
    )


def test_no_module_imports_itself_through_others() -> None:
    """No import loop at all between modules, also through a package's ``__init__`` (the import-linter
    contract in pyproject.toml checks siblings; a child importing its parent package is not a sibling)."""
    grimp = pytest.importorskip("grimp", reason="grimp comes with import-linter (the dev extra)")
    graph = grimp.build_graph("threatevents", cache_dir=None)
    loops = [
        (module, other)
        for module in sorted(graph.modules)
        for other in sorted(graph.find_modules_directly_imported_by(module))
        if graph.find_shortest_chain(importer=other, imported=module) is not None
    ]
    assert loops == []
