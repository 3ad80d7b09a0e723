"""A broken extractor install fails at start-up with the package to install (issue 11, item 12).

With pip 23.x the ``lxml[html_clean]`` extra did not resolve, trafilatura failed to import and every
HTML upload answered 500. :func:`check_extractors` imports every extractor at once; the import failures
are simulated by hiding modules in ``sys.modules``.
"""

from __future__ import annotations

import sys

import pytest

from threatevents.ingest import ExtractorUnavailableError, check_extractors, ingest_bytes
from threatevents.ingest.extractors import _package_to_install


def _hide(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``import name`` fail as if the package were not installed (and forget what was imported)."""
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            monkeypatch.delitem(sys.modules, loaded)
        monkeypatch.setitem(sys.modules, name, None)


def test_every_extractor_imports_in_a_full_install() -> None:
    check_extractors()


def test_missing_trafilatura_is_named_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "trafilatura")
    with pytest.raises(ExtractorUnavailableError, match=r"pip install trafilatura\n.*HTML \(trafilatura\)"):
        check_extractors()


def test_missing_lxml_html_clean_is_named_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "lxml_html_clean")
    monkeypatch.delitem(sys.modules, "lxml.html.clean", raising=False)
    with pytest.raises(ExtractorUnavailableError) as caught:
        check_extractors()
    message = str(caught.value)
    assert message.split(": ", 1)[1].startswith("pip install lxml_html_clean\n")
    assert "lxml.html.clean module is now a separate project" in message
    assert isinstance(caught.value, ImportError)


def test_every_failure_is_reported_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "docx", "pypdf")
    with pytest.raises(ExtractorUnavailableError, match=r"pip install pypdf python-docx\n"):
        check_extractors()


def test_a_missing_dependency_of_an_extractor_names_that_dependency() -> None:
    assert _package_to_install(ModuleNotFoundError("x", name="justext"), "trafilatura", "trafilatura") == "justext"
    assert _package_to_install(ModuleNotFoundError("x", name="docx.oxml"), "docx", "python-docx") == "python-docx"
    assert _package_to_install(ImportError("broken"), "lxml.html.clean", "lxml_html_clean") == "lxml_html_clean"


def test_html_upload_without_trafilatura_is_still_read(monkeypatch: pytest.MonkeyPatch) -> None:
    _hide(monkeypatch, "trafilatura")
    page = b"<html><head><title>Leak</title></head><body><p>Hackers stole the files of 9 firms.</p></body></html>"
    doc = ingest_bytes(page, name="leak.html")
    assert doc.title == "Leak" and doc.texts == ["Leak", "Hackers stole the files of 9 firms."]
