"""Check once, at start-up, that every extractor imports, so that a broken install fails there.

The extractors are imported lazily (a plain-text run never loads trafilatura). A broken install, such as
trafilatura without ``lxml_html_clean`` (the ``lxml[html_clean]`` extra does not resolve on pip 23.x),
would otherwise surface on every HTML file or upload as an unexpected error. The CLI's ``tag`` command
and the service's start-up call :func:`check_extractors`, which imports them all and raises
:class:`ExtractorUnavailableError` naming the package to install.
"""

from __future__ import annotations

import importlib

# (module to import, distribution that provides it, what needs it). lxml.html.clean comes before trafilatura
# so that its own, clearer, message is first when it is the part missing.
EXTRACTORS: tuple[tuple[str, str, str], ...] = (
    ("nupunkt", "nupunkt", "sentence splitting"),
    ("lxml.etree", "lxml", "HTML"),
    ("lxml.html.clean", "lxml_html_clean", "HTML"),
    ("trafilatura", "trafilatura", "HTML"),
    ("pypdf", "pypdf", "PDF"),
    ("cryptography", "cryptography", "AES-encrypted PDF"),
    ("docx", "python-docx", "DOCX"),
)
# Modules whose distribution has another name, for an import that fails on a dependency of a dependency.
_DISTRIBUTION_OF = {"docx": "python-docx", "lxml_html_clean": "lxml_html_clean", "lxml": "lxml"}


class ExtractorUnavailableError(ImportError):
    """An extractor cannot be imported; the message names the package to install."""


def _package_to_install(exc: BaseException, module: str, distribution: str) -> str:
    """The distribution to install for a failed import: the missing module's when it is another one."""
    missing = getattr(exc, "name", None)
    if not missing or missing == module or module.startswith(f"{missing}."):
        return distribution
    top = missing.split(".")[0]
    return _DISTRIBUTION_OF.get(top, top)


def check_extractors() -> None:
    """Import every extractor now; raise :class:`ExtractorUnavailableError` naming what to install.

    Every failure is reported in one message (the first line says what to run), not only the first.
    """
    problems: list[tuple[str, str]] = []
    for module, distribution, purpose in EXTRACTORS:
        try:
            importlib.import_module(module)
        except Exception as exc:  # ImportError, or any error a broken package raises while it is imported
            package = _package_to_install(exc, module, distribution)
            detail = " ".join(str(exc).split())
            problems.append((package, f"{purpose} ({module}): {type(exc).__name__}: {detail}"))
    if problems:
        packages = " ".join(dict.fromkeys(package for package, _ in problems))
        details = "\n".join(f"  {line}" for _, line in problems)
        raise ExtractorUnavailableError(
            f"cannot read every input format; install the missing package(s): pip install {packages}\n{details}"
        )
