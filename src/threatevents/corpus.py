"""Read and write the labelled corpus format: one sentence per line, ``sentence | Label[, Label...]``.

The published files are messy (CRLF, blank lines, stray fragments without ``|``, empty labels,
spaces around commas). By default :func:`parse_document` recovers what a careful person would and
counts each fix in a :class:`ReadReport`; with ``strict=True`` every such case is an error naming
file, line and problem. An unknown label, or ``O`` together with an event label, is always an error.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .labels import ALL_LABELS, LabelError, check_labels

log = logging.getLogger(__name__)

_LABEL_TAIL = re.compile(r"\s(" + "|".join(ALL_LABELS) + r")(\s*,\s*(" + "|".join(ALL_LABELS) + r"))*\s*$")


class CorpusFormatError(ValueError):
    """A problem in a corpus file that cannot (or, in strict mode, may not) be recovered."""

    def __init__(self, source: str, line: int, problem: str) -> None:
        super().__init__(f"{source}:{line}: {problem}")
        self.source, self.line, self.problem = source, line, problem


@dataclass(frozen=True)
class Sentence:
    text: str
    labels: tuple[str, ...] = ("O",)


@dataclass
class Document:
    id: str
    sentences: list[Sentence]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sentences]

    @property
    def labels(self) -> list[tuple[str, ...]]:
        return [s.labels for s in self.sentences]


@dataclass
class ReadReport:
    """What the reader fixed or dropped, counted by kind, plus one warning line per line dropped, joined or split.

    Each warning is logged at DEBUG level as it is found; the readers log one :meth:`summary` at
    WARNING level per call instead of one line per case.
    """

    fixes: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)
    warned: Counter[str] = field(default_factory=Counter)  # the kinds of the cases in ``warnings``
    warned_sources: set[str] = field(default_factory=set)

    def add(self, kind: str, source: str, line: int, message: str | None = None) -> None:
        self.fixes[kind] += 1
        if message:
            text = f"{source}:{line}: {message}"
            self.warnings.append(text)
            self.warned[kind] += 1
            self.warned_sources.add(source)
            log.debug(text)

    def merge(self, other: ReadReport) -> None:
        self.fixes.update(other.fixes)
        self.warnings.extend(other.warnings)
        self.warned.update(other.warned)
        self.warned_sources |= other.warned_sources

    def summary(self) -> str | None:
        """One line counting the lines dropped, joined or split, by kind; ``None`` when there were none."""
        if not self.warnings:
            return None
        n, files = len(self.warnings), len(self.warned_sources)
        kinds = ", ".join(f"{kind} {count}" for kind, count in sorted(self.warned.items()))
        return (
            f"{n} line{'s' if n != 1 else ''} dropped, joined or split in {files} file{'s' if files != 1 else ''}"
            f" ({kinds})"
        )


def _parse_labels(raw: str, source: str, line: int, strict: bool, report: ReadReport) -> tuple[str, ...]:
    stripped = [p.strip() for p in raw.split(",")]
    if raw.strip() != ", ".join(stripped) or raw.rstrip() != raw:  # canonical: "Label, Label"
        if strict:
            raise CorpusFormatError(source, line, f"spaces around label separator in {raw.strip()!r}")
        report.add("label_spacing", source, line)
    try:
        return check_labels(stripped)
    except LabelError as exc:
        raise CorpusFormatError(source, line, str(exc)) from None


def _is_continuation(fragment: str, next_line: str | None) -> bool:
    """Does a line without ``|`` look like the first half of a sentence broken over two lines?"""
    if next_line is None or "|" not in next_line:
        return False
    nxt = next_line.lstrip()
    return fragment[-1:].isspace() or fragment.rstrip()[-1:] in {",", ":", ";"} or nxt[:1].islower()


def parse_document(
    text: str, doc_id: str, *, source: str | None = None, strict: bool = False, report: ReadReport | None = None
) -> Document:
    """Parse one document in the corpus format. See the module docstring for the recovery rules."""
    source = source or doc_id
    own_report = report is None
    report = report if report is not None else ReadReport()
    if "\r" in text:
        if strict:
            raise CorpusFormatError(source, 1, "CRLF or CR line endings")
        report.add("crlf_file", source, 1)
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sentences: list[Sentence] = []
    pending: list[tuple[int, str]] = []  # fragments waiting to be joined to the next line
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            if strict:
                raise CorpusFormatError(source, number, "blank line")
            report.add("blank_line", source, number)
            continue
        if "|" not in line:
            tail = _LABEL_TAIL.search(line)
            nxt = lines[number] if number < len(lines) else None
            if strict:
                raise CorpusFormatError(source, number, "line has no '|' separator")
            if tail and line[: tail.start()].strip():
                report.add("missing_separator", source, number, "no '|' before the labels; split them off")
                line = line[: tail.start()] + " |" + tail.group(0)
            elif _is_continuation(line, nxt):
                report.add("joined_fragment", source, number, "line has no '|'; joined to the next line")
                pending.append((number, line))
                continue
            else:
                report.add("dropped_fragment", source, number, f"line has no '|'; dropped {line.strip()[:60]!r}")
                continue
        sentence_text, raw_labels = line.rsplit("|", 1)
        if not raw_labels.strip():
            if strict:
                raise CorpusFormatError(source, number, "empty label after '|'")
            report.add("empty_label", source, number, "empty label after '|'; sentence dropped")
            pending.clear()
            continue
        labels = _parse_labels(raw_labels, source, number, strict, report)
        if pending:
            sentence_text = " ".join([*(frag.strip() for _, frag in pending), sentence_text.strip()])
            pending.clear()
        sentence_text = " ".join(sentence_text.split())
        if not sentence_text:
            if strict:
                raise CorpusFormatError(source, number, "empty sentence before '|'")
            report.add("empty_sentence", source, number, "empty sentence; dropped")
            continue
        sentences.append(Sentence(sentence_text, labels))
    for number, frag in pending:
        report.add("dropped_fragment", source, number, f"trailing line has no '|'; dropped {frag.strip()[:60]!r}")
    if own_report and report.warnings:
        log.warning("%s: %s", source, report.summary())
    return Document(doc_id, sentences)


def format_document(doc: Document) -> str:
    """Serialise a document in the corpus format (LF line ends, ``Label, Label``)."""
    out = []
    for s in doc.sentences:
        text = " ".join(s.text.split())
        if not text:
            raise ValueError(f"document {doc.id!r} has an empty sentence")
        out.append(f"{text} | {', '.join(check_labels(s.labels))}\n")
    return "".join(out)


def read_document(path: str | Path, *, strict: bool = False, report: ReadReport | None = None) -> Document:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusFormatError(str(path), 1, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    return parse_document(text, path.stem, source=str(path), strict=strict, report=report)


def write_document(doc: Document, path: str | Path) -> None:
    Path(path).write_text(format_document(doc), encoding="utf-8", newline="\n")


@dataclass
class Corpus:
    """Documents by id, with the official split when the folder has a ``splits.json``."""

    documents: dict[str, Document]
    splits: dict[str, list[str]] | None = None
    report: ReadReport = field(default_factory=ReadReport)

    def split(self, name: str) -> list[Document]:
        """Documents of one split; ``all`` (or a corpus without splits) gives every document."""
        if name == "all" or self.splits is None:
            return list(self.documents.values())
        if name not in self.splits:
            raise KeyError(f"unknown split {name!r}; this corpus has {', '.join(self.splits)} and 'all'")
        return [self.documents[i] for i in self.splits[name] if i in self.documents]

    def has_split(self, name: str) -> bool:
        return self.splits is not None and name in self.splits

    def __len__(self) -> int:
        return len(self.documents)

    def __iter__(self) -> Iterator[Document]:
        return iter(self.documents.values())


def load_splits(path: str | Path, known_ids: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Read a ``splits.json`` mapping split name to document ids; check the splits are disjoint."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise CorpusFormatError(str(path), 1, f"cannot read split file: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise CorpusFormatError(str(path), 1, "split file must map split names to lists of document ids")
    splits = {str(k): [str(x) for x in v] for k, v in data.items()}
    seen: dict[str, str] = {}
    for name, ids in splits.items():
        for doc_id in ids:
            if doc_id in seen and seen[doc_id] != name:
                raise CorpusFormatError(str(path), 1, f"document {doc_id!r} is in both {seen[doc_id]!r} and {name!r}")
            seen[doc_id] = name
    if known_ids is not None:
        missing = sorted(set(seen) - set(known_ids))
        if missing:
            raise CorpusFormatError(str(path), 1, f"{len(missing)} listed document(s) not found, e.g. {missing[0]!r}")
    return splits


def corpus_files(path: Path) -> tuple[Path, list[Path]]:
    """The folder holding the ``.txt`` files of a corpus (``docs/`` if present) and those files."""
    docs_dir = path / "docs" if (path / "docs").is_dir() else path
    return docs_dir, sorted(p for p in docs_dir.glob("*.txt") if p.is_file())


def read_corpus(path: str | Path, *, strict: bool = False, split_file: str | Path | None = None) -> Corpus:
    """Read a corpus folder (``docs/`` + ``splits.json``) or any folder of corpus ``.txt`` files."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"corpus folder not found: {path}")
    _, files = corpus_files(path)
    if not files:
        raise CorpusFormatError(str(path), 0, "no .txt corpus files found")
    report = ReadReport()
    documents: dict[str, Document] = {}
    for file in files:
        doc = read_document(file, strict=strict, report=report)
        documents[doc.id] = doc
    if report.warnings:
        log.warning("%s: %s", path, report.summary())
    split_path = Path(split_file) if split_file else path / "splits.json"
    splits = load_splits(split_path, documents) if split_path.is_file() else None
    if split_file and splits is None:
        raise FileNotFoundError(f"split file not found: {split_file}")
    return Corpus(documents, splits, report)


def write_corpus(corpus: Corpus | Sequence[Document], path: str | Path) -> None:
    """Write documents as ``docs/<id>.txt`` (plus ``splits.json`` when the corpus has splits)."""
    path = Path(path)
    docs = list(corpus)
    (path / "docs").mkdir(parents=True, exist_ok=True)
    for doc in docs:
        write_document(doc, path / "docs" / f"{doc.id}.txt")
    if isinstance(corpus, Corpus) and corpus.splits is not None:
        (path / "splits.json").write_text(json.dumps(corpus.splits, indent=1), encoding="utf-8")


def normalise(text: str) -> str:
    """The matching key of a sentence (Unicode NFKC, case-folded, whitespace collapsed): how reviewed sentences
    are found again in a corpus."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
