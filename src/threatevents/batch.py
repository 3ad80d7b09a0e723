"""Tag many documents to Parquet: on every core of one machine (``engine="local"``) or on Ray Data (``"ray"``).

:func:`tag_batch` reads JSONL or Parquet files (a column of ids, of texts and optionally of titles) or
report files (text, HTML, PDF, DOCX, read from their bytes by the same ingestion as ``threatevents tag``),
from local paths or object stores (``s3://``, ``gs://``, ``abfs://``: pyarrow's filesystems), and writes
one Parquet row per sentence. The rows equal what :meth:`~threatevents.models.base.EventModel.tag_many`
gives for the same texts (indicators aside: they are not computed here).

The work is cut into *units*: a byte range of a JSONL file (``split_bytes``, 64 MiB by default, cut at line
ends), a run of row groups of a Parquet file, or a run of report files. Each unit is tagged by one worker
(a process of a pool, or an actor of a Ray actor pool, holding the model loaded once) which writes its own
files and then commits the unit with a small JSON record; the driver writes the manifest last. So the output
folder holds::

    sentences/part-<unit>.parquet   one row per sentence (schema: :func:`sentence_schema`)
    errors/part-<unit>.parquet      one row per document that could not be tagged, with the reason
    _units/<unit>.json              the commit record of each finished unit (files, row counts)
    _job.json                       the model (name, sha256) and options the job runs with
    _SUCCESS                        the manifest, written when every unit is done: files, row counts,
                                    model name and sha256, threatevents version

Readers should take the files the manifest lists (``pyarrow.dataset.dataset(out + "/sentences")`` reads them
all once ``_SUCCESS`` exists). A job stopped at any point (even SIGKILL) is resumed with ``resume=True``: the
units with a commit record are skipped, files of uncommitted units are deleted and those units run again, so
no row is lost or written twice.

A bad document (not JSON, wrong types, empty, over ``max_bytes``, unreadable file) becomes a row in
``errors/``, never a failed job; an input that lacks the id or text column, or names a file that does not
exist, stops the job before any work with a :class:`BatchError`.

Events: when the model has an event extractor (``has_event_extractor``), the rows carry an ``events`` column
(:func:`events_type`, ``list<struct<type, realis, score, trigger, arguments>>``): the
:attr:`~threatevents.tagging.TaggedSentence.events` of each sentence. The shipped models have none yet,
so their output has no such column.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from . import __version__
from .ingest import DEFAULT_MAX_BYTES, IngestedDocument, IngestError, ingest_bytes, ingest_text
from .labels import ALL_LABELS

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.fs as pafs

    from .tagging import Scorer

Engine = Literal["local", "ray"]
InputFormat = Literal["jsonl", "parquet", "files"]
INPUT_FORMATS: tuple[str, ...] = ("jsonl", "parquet", "files")
ENGINES: tuple[str, ...] = ("local", "ray")

MANIFEST = "_SUCCESS"
JOB_FILE = "_job.json"
UNITS_DIR = "_units"
SENTENCES_DIR = "sentences"
ERRORS_DIR = "errors"
# Reserved for the event extractor: a list<struct> column of the events found in each sentence.
EVENTS_COLUMN = "events"
DEFAULT_SPLIT_BYTES = 64 * 1024 * 1024
FILES_PER_UNIT = 256
# A unit whose first lines are all broken is not JSONL: stop reading it after this many in a row.
MAX_BAD_LINES_IN_A_ROW = 1000
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_GLOB_CHARS = "*?["


class BatchError(Exception):
    """A job that cannot start or go on (a missing column, an unreachable cluster, an output folder in use);
    the message is meant for the user."""


# -- options, inputs and units ---------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchOptions:
    """What every worker needs to read, tag and write (picklable: it travels to processes and actors)."""

    model: str | None = None
    id_column: str = "id"
    text_column: str = "text"
    title_column: str | None = "title"
    batch_size: int = 64
    scores: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES
    threads: int = 1


@dataclass(frozen=True)
class InputFile:
    fs_index: int  # into the job's list of input filesystems
    path: str  # the filesystem's path
    display: str  # as shown to the user and in the manifest (scheme included for object stores)
    name: str  # the document name for a report file (relative to its folder argument)
    size: int
    kind: str


@dataclass(frozen=True)
class Unit:
    """One piece of work: ``start``/``end`` are a byte range (jsonl) or row-group range (parquet); a files
    unit lists its report files."""

    key: str
    kind: str
    source: str  # display name of the input file (files units: the first file)
    fs_index: int
    path: str
    start: int
    end: int
    weight: int  # bytes of input, for progress
    files: tuple[tuple[str, str, int], ...] = ()  # (path, name, size) of report files


@dataclass
class BatchProgress:
    """Counts so far, passed to the ``progress`` callback of :func:`tag_batch`."""

    documents: int = 0
    sentences: int = 0
    errors: int = 0
    weight_done: int = 0
    weight_total: int = 0
    units_done: int = 0
    units_total: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def sentences_per_second(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.sentences / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class BatchResult:
    out: str
    manifest: dict[str, Any]
    skipped_units: int

    @property
    def rows(self) -> int:
        return int(self.manifest["rows"])

    @property
    def error_rows(self) -> int:
        return int(self.manifest["error_rows"])

    @property
    def documents(self) -> int:
        return int(self.manifest["documents"])


def events_type() -> pa.DataType:
    """The type of the ``events`` column: the events whose trigger is in the sentence, as in ``docs/events.md``
    (offsets into the document text)."""
    import pyarrow as pa

    span = pa.struct([("start", pa.int64()), ("end", pa.int64()), ("text", pa.string())])
    argument = pa.struct(
        [
            ("role", pa.string()),
            ("start", pa.int64()),
            ("end", pa.int64()),
            ("text", pa.string()),
            ("score", pa.float64()),
        ]
    )
    event = pa.struct(
        [
            ("type", pa.string()),
            ("realis", pa.string()),
            ("score", pa.float64()),
            ("trigger", span),
            ("arguments", pa.list_(argument)),
        ]
    )
    return pa.list_(event)


def sentence_schema(scores: bool = False, events: bool = False) -> pa.Schema:
    """The Parquet schema of ``sentences/``: one row per sentence; ``score_<label>`` columns with ``scores``;
    an ``events`` column (:func:`events_type`) when the model has an event extractor."""
    import pyarrow as pa

    fields = [
        pa.field("doc_id", pa.string(), nullable=False),
        pa.field("index", pa.int32(), nullable=False),
        pa.field("start", pa.int64(), nullable=False),
        pa.field("end", pa.int64(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("labels", pa.list_(pa.string()), nullable=False),
    ]
    if scores:
        fields += [pa.field(f"score_{label}", pa.float64(), nullable=False) for label in ALL_LABELS]
    if events:
        fields.append(pa.field(EVENTS_COLUMN, events_type(), nullable=False))
    return pa.schema(fields)


def error_schema() -> pa.Schema:
    """The Parquet schema of ``errors/``: the input file, where in it, the document id when known, and why."""
    import pyarrow as pa

    return pa.schema(
        [
            pa.field("source", pa.string(), nullable=False),
            pa.field("position", pa.string(), nullable=False),
            pa.field("doc_id", pa.string()),
            pa.field("reason", pa.string(), nullable=False),
        ]
    )


def filesystem(uri: str) -> tuple[pafs.FileSystem, str]:
    """A pyarrow filesystem and path for a local path or a ``scheme://`` URI (s3, gs, abfs, file...)."""
    import pyarrow.fs as pafs

    if "://" not in uri:
        return pafs.LocalFileSystem(), os.path.abspath(uri)
    try:
        return pafs.FileSystem.from_uri(uri)
    except (ValueError, NotImplementedError, OSError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise BatchError(f"cannot open {_strip_query(uri)}: {exc}") from None


def _strip_query(uri: str) -> str:
    """A URI without its query (which may carry credentials or endpoints)."""
    return uri.split("?", 1)[0]


def _display(uri: str, path: str) -> str:
    if "://" not in uri:
        return path
    scheme = uri.split("://", 1)[0]
    return f"{scheme}://{path}"


def _kind_of(path: str, forced: str | None) -> str:
    if forced:
        return forced
    lower = path.lower()
    if lower.endswith(_JSONL_SUFFIXES):
        return "jsonl"
    if lower.endswith(_PARQUET_SUFFIXES):
        return "parquet"
    return "files"


def glob_regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression: ``*`` and ``?`` stay within one path segment, ``**`` crosses them,
    ``[...]`` is a character class."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[" and "]" in pattern[i + 2 :]:
            end = pattern.index("]", i + 2)
            body = pattern[i + 1 : end].replace("\\", "\\\\")
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def _hidden(relative: str) -> bool:
    return any(part.startswith((".", "_")) for part in relative.split("/") if part)


def expand_inputs(
    inputs: Sequence[str], input_format: str | None = None, *, exclude: tuple[pafs.FileSystem, str] | None = None
) -> tuple[list[InputFile], list[pafs.FileSystem]]:
    """Files named by ``inputs`` (files, folders walked recursively, globs), sorted within each argument.

    Hidden entries (``.x``, ``_x``) of folders are skipped, and so is anything below ``exclude`` (the output).
    A path that matches nothing is a :class:`BatchError`.
    """
    import pyarrow.fs as pafs

    if input_format is not None and input_format not in INPUT_FORMATS:
        raise BatchError(f"unknown input format {input_format!r}; choose from {', '.join(INPUT_FORMATS)}")
    if not inputs:
        raise BatchError("no inputs given")
    systems: list[pafs.FileSystem] = []
    files: list[InputFile] = []
    for raw in inputs:
        fs, path = filesystem(raw)
        systems.append(fs)
        index = len(systems) - 1
        wildcard = next((i for i, c in enumerate(path) if c in _GLOB_CHARS), None)
        try:
            if wildcard is not None:
                base = path[:wildcard].rsplit("/", 1)[0] or "/"
                infos = fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
                pattern = glob_regex(path)
                found = [i for i in infos if i.is_file and pattern.fullmatch(i.path)]
                found = [i for i in found if not _hidden(i.path[len(base) :])]
                root = base
            else:
                info = fs.get_file_info(path)
                if info.type == pafs.FileType.NotFound:
                    raise BatchError(f"{_strip_query(raw)}: no such file or folder")
                if info.type == pafs.FileType.Directory:
                    infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
                    found = [i for i in infos if i.is_file and not _hidden(i.path[len(path) :])]
                    root = path
                else:
                    found, root = [info], ""
        except OSError as exc:
            raise BatchError(f"cannot list {_strip_query(raw)}: {exc}") from None
        if exclude is not None and exclude[0].type_name == fs.type_name:
            prefix = exclude[1].rstrip("/") + "/"
            found = [i for i in found if not (i.path + "/").startswith(prefix)]
        if not found:
            raise BatchError(f"{_strip_query(raw)}: no input files there (hidden ones are skipped)")
        for info in sorted(found, key=lambda i: i.path):
            name = info.path[len(root) :].lstrip("/") if root else _strip_query(raw)
            kind = _kind_of(info.path, input_format)
            files.append(InputFile(index, info.path, _display(raw, info.path), name, int(info.size or 0), kind))
    return files, systems


def _unit_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:20]


def plan_units(
    files: Sequence[InputFile], systems: Sequence[pafs.FileSystem], options: BatchOptions, split_bytes: int
) -> list[Unit]:
    """Cut the inputs into units of work. Parquet files are checked here for the id and text columns."""
    units: list[Unit] = []
    reports: list[InputFile] = []

    def flush_reports() -> None:
        if reports:
            listed = tuple((f.path, f.name, f.size) for f in reports)
            key = _unit_key("files", reports[0].fs_index, listed)
            weight = sum(f.size for f in reports)
            units.append(
                Unit(key, "files", reports[0].display, reports[0].fs_index, "", 0, len(listed), weight, listed)
            )
            reports.clear()

    for f in files:
        if f.kind == "files":
            if reports and (reports[0].fs_index != f.fs_index or len(reports) >= FILES_PER_UNIT):
                flush_reports()
            reports.append(f)
            continue
        flush_reports()
        if f.kind == "jsonl":
            for start in range(0, max(f.size, 1), split_bytes):
                end = min(start + split_bytes, f.size)
                key = _unit_key("jsonl", f.display, f.size, start, end)
                units.append(Unit(key, "jsonl", f.display, f.fs_index, f.path, start, end, end - start))
        else:
            units += _parquet_units(f, systems[f.fs_index], options, split_bytes)
    flush_reports()
    return units


def _parquet_units(f: InputFile, fs: pafs.FileSystem, options: BatchOptions, split_bytes: int) -> list[Unit]:
    import pyarrow.parquet as pq

    try:
        with fs.open_input_file(f.path) as handle:
            meta = pq.ParquetFile(handle).metadata
            schema = meta.schema.to_arrow_schema()
    except Exception:  # a damaged or lying file: its unit records the reason as an error row
        key = _unit_key("parquet", f.display, f.size, 0, -1)
        return [Unit(key, "parquet", f.display, f.fs_index, f.path, 0, -1, f.size)]
    _check_columns(schema, options, f.display)
    units: list[Unit] = []
    start, weight = 0, 0
    for group in range(meta.num_row_groups):
        weight += meta.row_group(group).total_byte_size
        if weight >= split_bytes or group == meta.num_row_groups - 1:
            key = _unit_key("parquet", f.display, f.size, start, group + 1)
            units.append(Unit(key, "parquet", f.display, f.fs_index, f.path, start, group + 1, weight))
            start, weight = group + 1, 0
    if not units:  # no row groups: an empty file
        units.append(
            Unit(_unit_key("parquet", f.display, f.size, 0, 0), "parquet", f.display, f.fs_index, f.path, 0, 0, 0)
        )
    return units


def _check_columns(schema: pa.Schema, options: BatchOptions, source: str) -> None:
    import pyarrow as pa

    names = schema.names
    for option, column in (("id", options.id_column), ("text", options.text_column)):
        if column not in names:
            raise BatchError(
                f"{source}: no {option} column {column!r} (columns: {', '.join(names) or 'none'}); "
                f"name it with --{option}-column"
            )
    text_type = schema.field(options.text_column).type
    if not (pa.types.is_string(text_type) or pa.types.is_large_string(text_type)):
        raise BatchError(f"{source}: the text column {options.text_column!r} holds {text_type}, not strings")


# -- reading records -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bad:
    position: str
    doc_id: str | None
    reason: str


_Item = IngestedDocument | _Bad


def _read_lines(handle: Any, start: int, end: int, max_line: int) -> Iterator[tuple[int, bytes | None]]:
    """The lines of a byte range as ``(offset, bytes)``: those that start at an offset in ``[start, end)``.

    A line longer than ``max_line`` comes as ``(offset, None)`` and is skipped without being held in memory.
    """
    pos = start
    if start > 0:  # the line running over the range's start belongs to the previous range
        handle.seek(start - 1)
        pos = start - 1
    else:
        handle.seek(0)
    buffer = b""
    skipping = start > 0  # drop through the first newline (the byte before start may be it)
    too_long = False
    line_start = pos
    while True:
        if not skipping and line_start >= end:
            return
        chunk = handle.read(1 << 20)
        if not chunk:
            if buffer and not skipping and line_start < end:
                yield (line_start, None if too_long else buffer)
            return
        offset = pos
        pos += len(chunk)
        while chunk:
            cut = chunk.find(b"\n")
            if cut < 0:
                if not skipping and not too_long:
                    buffer += chunk
                    if len(buffer) > max_line:
                        too_long, buffer = True, b""
                chunk = b""
                continue
            piece, chunk = chunk[:cut], chunk[cut + 1 :]
            if skipping:
                skipping = False
            else:
                if line_start >= end:
                    return
                if not too_long:
                    buffer += piece
                    if len(buffer) > max_line:
                        too_long = True
                yield (line_start, None if too_long else buffer)
            offset += cut + 1
            line_start = offset
            buffer, too_long = b"", False


def _doc_id(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _from_record(record: Any, position: str, options: BatchOptions) -> _Item:
    """A document from one JSON object or Parquet row, or why it cannot be one."""
    if not isinstance(record, dict):
        return _Bad(position, None, f"not a JSON object but {type(record).__name__}")
    raw_id = record.get(options.id_column)
    doc_id = _doc_id(raw_id)
    if doc_id is None:
        shown = "missing" if raw_id is None else f"a {type(raw_id).__name__}, not a string or integer"
        return _Bad(position, None, f"the id ({options.id_column!r}) is {shown}")
    text = record.get(options.text_column)
    if not isinstance(text, str):
        shown = "missing" if text is None else f"a {type(text).__name__}, not a string"
        return _Bad(position, doc_id, f"the text ({options.text_column!r}) is {shown}")
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) * 4 > options.max_bytes else len(text)
    if size > options.max_bytes:
        return _Bad(position, doc_id, f"the text is {size:,} bytes, over the limit of {options.max_bytes:,}")
    title = record.get(options.title_column) if options.title_column else None
    if title is not None and not isinstance(title, str):
        return _Bad(position, doc_id, f"the title ({options.title_column!r}) is a {type(title).__name__}, not a string")
    try:
        return ingest_text(text, name=doc_id, title=title)
    except IngestError as exc:
        return _Bad(position, doc_id, str(exc))


def _jsonl_items(fs: pafs.FileSystem, unit: Unit, options: BatchOptions) -> Iterator[_Item]:
    bad_in_a_row = 0
    with fs.open_input_file(unit.path) as handle:
        for offset, line in _read_lines(handle, unit.start, unit.end, options.max_bytes * 2 + 65536):
            position = f"byte {offset}"
            if line is None:
                item: _Item = _Bad(position, None, f"a line longer than {options.max_bytes * 2 + 65536:,} bytes")
            elif not line.strip():
                continue
            else:
                try:
                    record = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    item = _Bad(position, None, f"not JSON: {exc}")
                except RecursionError:
                    item = _Bad(position, None, "not JSON: nested too deeply")
                else:
                    item = _from_record(record, position, options)
            bad_in_a_row = bad_in_a_row + 1 if isinstance(item, _Bad) else 0
            yield item
            if bad_in_a_row >= MAX_BAD_LINES_IN_A_ROW:
                yield _Bad(position, None, f"gave up on this part of the file: {bad_in_a_row} bad lines in a row")
                return


def _parquet_items(fs: pafs.FileSystem, unit: Unit, options: BatchOptions) -> Iterator[_Item]:
    import pyarrow.parquet as pq

    if unit.end < 0:
        try:
            with fs.open_input_file(unit.path) as handle:
                pq.ParquetFile(handle).metadata  # noqa: B018  # raises again, with the reason
        except Exception as exc:
            yield _Bad("file", None, f"not a readable Parquet file: {exc}")
            return
        yield _Bad("file", None, "not a readable Parquet file")
        return
    with fs.open_input_file(unit.path) as handle:
        parquet = pq.ParquetFile(handle)
        names = parquet.schema_arrow.names
        columns = [c for c in (options.id_column, options.text_column, options.title_column) if c and c in names]
        row = sum(parquet.metadata.row_group(g).num_rows for g in range(unit.start))
        groups = list(range(unit.start, unit.end))
        if not groups:
            return
        try:
            batches = parquet.iter_batches(batch_size=options.batch_size, row_groups=groups, columns=columns)
            for batch in batches:
                for record in batch.to_pylist():
                    yield _from_record(record, f"row {row}", options)
                    row += 1
        except Exception as exc:  # a damaged row group: the rows read so far stand
            yield _Bad(f"row {row}", None, f"cannot read the rest of the file: {exc}")


def _files_items(fs: pafs.FileSystem, unit: Unit, options: BatchOptions) -> Iterator[_Item]:
    for path, name, size in unit.files:
        if size > options.max_bytes:
            yield _Bad(name, name, f"{name}: {size:,} bytes is over the limit of {options.max_bytes:,} bytes")
            continue
        try:
            with fs.open_input_stream(path) as handle:
                data = handle.read(options.max_bytes + 1)
            yield ingest_bytes(data, name=name, max_bytes=options.max_bytes)
        except IngestError as exc:
            yield _Bad(name, name, str(exc))
        except OSError as exc:
            yield _Bad(name, name, f"{name}: cannot read the file ({exc})")


def _unit_items(fs: pafs.FileSystem, unit: Unit, options: BatchOptions) -> Iterator[_Item]:
    readers = {"jsonl": _jsonl_items, "parquet": _parquet_items, "files": _files_items}
    try:
        yield from readers[unit.kind](fs, unit, options)
    except OSError as exc:
        yield _Bad("file", None, f"cannot read {unit.source}: {exc}")


# -- tagging a unit (in a worker) ------------------------------------------------------------------------


def _sentence_columns(tagged: Sequence[Sequence[Any]], scores: bool, events: bool) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in sentence_schema(scores, events).names}
    for doc in tagged:
        for s in doc:
            columns["doc_id"].append(s.document)
            columns["index"].append(s.index)
            columns["start"].append(s.start)
            columns["end"].append(s.end)
            columns["text"].append(s.text)
            columns["labels"].append(list(s.labels))
            if scores:
                for label in ALL_LABELS:
                    columns[f"score_{label}"].append(s.scores[label])
            if events:
                columns[EVENTS_COLUMN].append([event.to_record() for event in s.events])
    return columns


class UnitTagger:
    """Loads the model once and tags units: what each process of the local pool and each Ray actor holds."""

    def __init__(
        self,
        options: BatchOptions,
        systems: Sequence[pafs.FileSystem],
        out_fs: pafs.FileSystem,
        out_path: str,
        model: Scorer | None = None,
    ) -> None:
        if model is None:
            from .models import load_model

            model = load_model(options.model, threads=options.threads)
        self.model = model
        # the events column, once the model extracts events (EventModel.has_event_extractor)
        self.events = bool(getattr(model, "has_event_extractor", False))
        self.options = options
        self.systems = list(systems)
        self.out_fs = out_fs
        self.out_path = out_path.rstrip("/")

    def run(self, unit: Unit, report: Callable[[int, int, int], None] | None = None) -> dict[str, Any]:
        """Tag one unit, write its files, commit it; returns its commit record.

        ``report(documents, sentences, errors)`` is called after each batch.
        """
        import pyarrow as pa
        import pyarrow.parquet as pq

        from .tagging import tag_documents

        options = self.options
        schema = sentence_schema(options.scores, self.events)
        sentences_file = f"{SENTENCES_DIR}/part-{unit.key}.parquet"
        errors_file = f"{ERRORS_DIR}/part-{unit.key}.parquet"
        writer: pq.ParquetWriter | None = None
        error_writer: pq.ParquetWriter | None = None
        rows = error_rows = documents = 0
        fs = self.systems[unit.fs_index]
        items = _unit_items(fs, unit, options)
        try:
            while True:
                docs: list[IngestedDocument] = []
                bad: list[_Bad] = []
                for item in items:
                    if isinstance(item, _Bad):
                        bad.append(item)
                    else:
                        docs.append(item)
                    if len(docs) >= options.batch_size or len(bad) >= options.batch_size:
                        break
                else:
                    items = iter(())
                if not docs and not bad:
                    break
                if docs:
                    tagged = tag_documents(self.model, docs, indicators=False)
                    table = pa.Table.from_pydict(_sentence_columns(tagged, options.scores, self.events), schema=schema)
                    if table.num_rows:
                        if writer is None:
                            writer = self._writer(sentences_file, schema)
                        writer.write_table(table)
                    rows += table.num_rows
                    documents += len(docs)
                    if report:
                        report(len(docs), table.num_rows, len(bad))
                elif report:
                    report(0, 0, len(bad))
                if bad:
                    table = pa.Table.from_pylist(
                        [{"source": unit.source, **asdict(b)} for b in bad], schema=error_schema()
                    )
                    if error_writer is None:
                        error_writer = self._writer(errors_file, error_schema())
                    error_writer.write_table(table)
                    error_rows += len(bad)
        finally:
            for w in (writer, error_writer):
                if w is not None:
                    w.close()
        record = {
            "unit": unit.key,
            "kind": unit.kind,
            "source": unit.source,
            "range": [unit.start, unit.end],
            "documents": documents,
            "files": {sentences_file: rows} if writer is not None else {},
            "error_files": {errors_file: error_rows} if error_writer is not None else {},
            "rows": rows,
            "error_rows": error_rows,
            "weight": unit.weight,
        }
        _write_json(self.out_fs, f"{self.out_path}/{UNITS_DIR}/{unit.key}.json", record)
        return record

    def _writer(self, relative: str, schema: pa.Schema) -> Any:
        import pyarrow.parquet as pq

        path = f"{self.out_path}/{relative}"
        self.out_fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        sink = self.out_fs.open_output_stream(path)
        return pq.ParquetWriter(sink, schema, compression="zstd")


def _write_json(fs: pafs.FileSystem, path: str, data: Any) -> None:
    """Write JSON in one piece (a temporary name then a move where the filesystem has atomic moves)."""
    import pyarrow.fs as pafs

    fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    payload = (json.dumps(data, indent=1) + "\n").encode()
    if isinstance(fs, pafs.LocalFileSystem):
        tmp = f"{path}.tmp-{os.getpid()}"
        with fs.open_output_stream(tmp) as out:
            out.write(payload)
        fs.move(tmp, path)
    else:  # an object store: an object appears whole when its upload completes
        with fs.open_output_stream(path) as out:
            out.write(payload)


def _read_json(fs: pafs.FileSystem, path: str) -> Any:
    try:
        with fs.open_input_stream(path) as handle:
            return json.loads(handle.read())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


# -- engines ---------------------------------------------------------------------------------------------


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


_WORKER: UnitTagger | None = None
_QUEUE: Any = None


def _init_worker(
    options: BatchOptions, systems: list[Any], out_fs: Any, out_path: str, queue: Any, model: Any = None
) -> None:
    global _WORKER, _QUEUE
    _WORKER = UnitTagger(options, systems, out_fs, out_path, model)
    _QUEUE = queue


def _run_in_worker(unit: Unit) -> dict[str, Any]:
    assert _WORKER is not None, "worker not initialised"
    queue = _QUEUE
    return _WORKER.run(unit, (lambda d, s, e: queue.put((d, s, e))) if queue is not None else None)


def _run_local(
    units: Sequence[Unit], tagger_args: tuple[Any, ...], workers: int, progress: Callable[[int, int, int, int], None]
) -> list[dict[str, Any]]:
    """Run ``units`` on a pool of ``workers`` processes (in this process when ``workers`` is 1)."""
    import multiprocessing
    import queue as queue_module
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    if workers <= 1 or len(units) <= 1:
        tagger = UnitTagger(*tagger_args)
        out = []
        for unit in units:
            out.append(tagger.run(unit, lambda d, s, e: progress(d, s, e, 0)))
            progress(0, 0, 0, unit.weight)
        return out
    # spawn: the parent has pyarrow's threads running, and forking a threaded process can deadlock
    context = multiprocessing.get_context("spawn")
    messages = context.Queue()
    results: dict[str, dict[str, Any]] = {}

    def drain() -> None:
        while True:
            try:
                d, s, e = messages.get_nowait()
            except queue_module.Empty:
                return
            progress(d, s, e, 0)

    with ProcessPoolExecutor(
        max_workers=min(workers, len(units)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(*tagger_args, messages),
    ) as pool:
        pending = {pool.submit(_run_in_worker, unit): unit for unit in units}
        while pending:
            done, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                unit = pending.pop(future)
                results[unit.key] = future.result()
                progress(0, 0, 0, unit.weight)
        drain()
    return [results[u.key] for u in units]


def _ray_module() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise BatchError("the ray engine needs Ray Data: pip install 'threatevents[ray]'") from None
    return ray


# Ray's single-node mode (its default on macOS and Windows): the node's address is 127.0.0.1, so its gRPC
# servers (GCS, raylet, workers) and agents listen on loopback only. On Linux Ray otherwise replaces
# 127.0.0.1 by the machine's routable address and listens on every interface.
_RAY_SINGLE_NODE = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
LOOPBACK = ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def _probe_ray_address(address: str, timeout: float = 5.0) -> None:
    """Fail fast with a clear message when nothing answers at ``address`` (Ray itself retries for minutes)."""
    import socket

    target = address
    if address == "auto":
        from ray._private.services import canonicalize_bootstrap_address

        try:
            target = canonicalize_bootstrap_address("auto") or ""
        except (ConnectionError, ValueError) as exc:
            raise BatchError(f"cannot find a running Ray cluster (--address auto): {exc}") from None
        if not target:
            raise BatchError("cannot find a running Ray cluster (--address auto): start one with `ray start --head`")
    target = target.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise BatchError(f"--address {address}: give auto, HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise BatchError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


def _init_local_ray(ray: Any, cpus: int) -> None:
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        logging_level="warning",
        log_to_driver=False,
    )


def _start_local_ray(ray: Any, cpus: int) -> None:
    """Start a Ray cluster on this machine that listens on 127.0.0.1 only, without a dashboard."""
    from ray._private import ray_constants  # the switch is read at import; set it for this process too

    os.environ[_RAY_SINGLE_NODE] = "0"  # inherited by the raylet and every worker it starts
    ray_constants.ENABLE_RAY_CLUSTER = False
    # the workers import the threatevents this process runs (a source checkout too, not only an installed one)
    package_root = str(Path(__file__).resolve().parents[1])
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, saved) if p)
    try:
        for attempt in (1, 2):  # Ray gives its raylet a fixed 30 s to register: a busy machine may need a second go
            try:
                _init_local_ray(ray, cpus)
                break
            except Exception as exc:  # Ray raises a bare Exception for this
                ray.shutdown()
                if attempt == 2 or "timed out during startup" not in str(exc):
                    raise BatchError(f"the local Ray cluster did not start: {exc}") from None
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if not addresses <= set(LOOPBACK):
        ray.shutdown()
        raise BatchError(
            f"the local Ray cluster came up on {', '.join(sorted(addresses))}, not on 127.0.0.1 only; refusing to "
            "run it (a Ray head open to a network runs any code sent to it). Start one yourself and pass --address"
        )


class _RayTagger:
    """The callable class of the Ray actor pool: one model per actor; a batch is one unit, as a JSON string."""

    def __init__(self, tagger_args: tuple[Any, ...]) -> None:
        self.tagger = UnitTagger(*tagger_args)

    def __call__(self, batch: dict[str, Any]) -> dict[str, Any]:
        records = [self.tagger.run(Unit(**_unit_from_json(raw))) for raw in batch["unit"]]
        return {"record": [json.dumps(r) for r in records]}


def _unit_from_json(raw: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    data["files"] = tuple(tuple(f) for f in data["files"])
    return data


def ray_actor_cpus(cluster_cpus: float, actors: int, threads: int) -> float:
    """Logical CPUs each actor asks for: ``threads``, but so little that ``actors`` actors leave half a CPU
    free for Ray Data's own tasks (a 2-CPU cluster with 2 actors at ``num_cpus=1`` waits forever)."""
    room = max(cluster_cpus - 0.5, 0.25) / max(actors, 1)
    return round(max(min(float(threads), room), 0.05), 2)


def _run_ray(
    units: Sequence[Unit],
    tagger_args: tuple[Any, ...],
    workers: int | None,
    address: str | None,
    progress: Callable[[int, int, int, int], None],
) -> list[dict[str, Any]]:
    ray = _ray_module()
    from ray.data import ActorPoolStrategy, DataContext

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no reports to the outside world
    started = False
    if not ray.is_initialized():
        if address:
            _probe_ray_address(address)
            try:
                ray.init(address=address, logging_level="warning", log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                raise BatchError(f"cannot reach the Ray cluster at {address}: {exc}") from None
        else:
            _start_local_ray(ray, available_cores())
        started = True
    try:
        context = DataContext.get_current()
        context.enable_progress_bars = False
        cluster_cpus = float(ray.cluster_resources().get("CPU", 1))
        threads = tagger_args[0].threads
        actors = workers or max(1, int(cluster_cpus // threads))
        actors = min(actors, len(units))
        cpus = ray_actor_cpus(cluster_cpus, actors, threads)
        rows = [{"unit": json.dumps(asdict(u))} for u in units]
        dataset = ray.data.from_items(rows, override_num_blocks=len(rows))
        tagged = dataset.map_batches(
            _RayTagger,
            fn_constructor_args=(tagger_args,),
            batch_size=1,
            batch_format="numpy",
            compute=ActorPoolStrategy(min_size=1, max_size=actors),
            num_cpus=cpus,
        )
        weights = {u.key: u.weight for u in units}
        records: dict[str, dict[str, Any]] = {}
        for row in tagged.iter_rows():
            record = json.loads(row["record"])
            records[record["unit"]] = record
            progress(record["documents"], record["rows"], record["error_rows"], weights[record["unit"]])
    finally:
        if started:
            ray.shutdown()
    return [records[u.key] for u in units]


# -- the job ---------------------------------------------------------------------------------------------


def model_identity(model: str | None) -> dict[str, str]:
    """The model's name as shown to people, its kind and the sha256 of its manifest (which lists the sha256 of
    every file of the model, so it names the model's exact content)."""
    from .models import describe_model_path, read_model_config, resolve_model_path

    path = resolve_model_path(model)
    if not path.exists():
        from .models import ModelLoadError

        raise ModelLoadError(f"model not found: {path} (give a model directory, 'default' or 'linear')")
    config = read_model_config(path)  # checks every file against the manifest
    digest = hashlib.sha256((path / "manifest.json").read_bytes()).hexdigest()
    return {"name": describe_model_path(path), "kind": str(config["kind"]), "sha256": digest}


def _existing(fs: pafs.FileSystem, root: str) -> list[Any]:
    import pyarrow.fs as pafs

    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return []
    if info.type != pafs.FileType.Directory:
        raise BatchError(f"the output {root} is a file; give a folder")
    return list(fs.get_file_info(pafs.FileSelector(root, recursive=True)))


def _prepare_output(
    fs: pafs.FileSystem, root: str, job: dict[str, Any], *, resume: bool, overwrite: bool
) -> dict[str, dict[str, Any]]:
    """Check the output folder against the options and return the committed units (``resume``)."""
    entries = _existing(fs, root)
    ours = {MANIFEST, JOB_FILE, UNITS_DIR, SENTENCES_DIR, ERRORS_DIR}
    top = {e.path[len(root) :].strip("/").split("/", 1)[0] for e in entries}
    foreign = sorted(top - ours)
    if entries and foreign:
        raise BatchError(
            f"the output folder {root} holds other files ({', '.join(foreign[:3])}); give an empty or new folder"
        )
    if entries and not resume and not overwrite:
        raise BatchError(f"the output folder {root} holds an earlier job's output; use --resume or --overwrite")
    committed: dict[str, dict[str, Any]] = {}
    if entries and overwrite and not resume:
        for name in (SENTENCES_DIR, ERRORS_DIR, UNITS_DIR):
            with contextlib.suppress(FileNotFoundError):
                fs.delete_dir(f"{root}/{name}")
        for name in (MANIFEST, JOB_FILE):
            with contextlib.suppress(FileNotFoundError):
                fs.delete_file(f"{root}/{name}")
    elif entries and resume:
        earlier = _read_json(fs, f"{root}/{JOB_FILE}")
        if earlier is not None:
            for setting in ("model_sha256", "options"):
                if earlier.get(setting) != job.get(setting):
                    raise BatchError(
                        f"cannot resume: {root} was written with other settings ({setting} differs); "
                        "use --overwrite to start again"
                    )
        for entry in entries:
            if entry.path.startswith(f"{root}/{UNITS_DIR}/") and entry.path.endswith(".json"):
                record = _read_json(fs, entry.path)
                if isinstance(record, dict) and "unit" in record:
                    committed[record["unit"]] = record
    with contextlib.suppress(FileNotFoundError):
        fs.delete_file(f"{root}/{MANIFEST}")  # the job is not complete until it is written again
    fs.create_dir(root, recursive=True)
    _write_json(fs, f"{root}/{JOB_FILE}", job)
    return committed


def _clean_uncommitted(fs: pafs.FileSystem, root: str, keep: set[str]) -> None:
    """Delete data files that no committed unit lists: the leftovers of units that were stopped."""
    import pyarrow.fs as pafs

    for folder in (SENTENCES_DIR, ERRORS_DIR, UNITS_DIR):
        for entry in fs.get_file_info(pafs.FileSelector(f"{root}/{folder}", recursive=True, allow_not_found=True)):
            relative = entry.path[len(root) :].strip("/")
            if entry.is_file and relative not in keep:
                fs.delete_file(entry.path)


def tag_batch(
    inputs: str | Sequence[str],
    out: str | Path,
    *,
    engine: Engine = "local",
    model: str | None = None,
    input_format: InputFormat | None = None,
    id_column: str = "id",
    text_column: str = "text",
    title_column: str | None = "title",
    workers: int | None = None,
    threads_per_worker: int = 1,
    batch_size: int = 64,
    scores: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
    resume: bool = False,
    overwrite: bool = False,
    address: str | None = None,
    split_bytes: int = DEFAULT_SPLIT_BYTES,
    progress: Callable[[BatchProgress], None] | None = None,
) -> BatchResult:
    """Tag every document of ``inputs`` and write Parquet to ``out`` (a local folder or a ``scheme://`` URI).

    ``inputs``: JSONL/Parquet files (``id_column``, ``text_column``, optional ``title_column``), folders
    (recursively), globs, or report files; ``input_format`` forces one reading for all (default: ``.jsonl``,
    ``.ndjson``, ``.json`` are JSONL, ``.parquet``/``.pq`` Parquet, anything else a report file).
    ``engine="local"``: ``workers`` processes (default: one per core) with ``threads_per_worker`` onnxruntime
    threads each. ``engine="ray"``: a Ray Data actor pool on the cluster at ``address`` (``"auto"``,
    ``"ray://host:10001"``), or on a local cluster started on 127.0.0.1 without a dashboard when ``address``
    is None. ``resume`` skips the units committed by an earlier run of the same job; ``overwrite`` deletes an
    earlier job's output first. ``progress`` is called with :class:`BatchProgress` as work is done.
    """
    if engine not in ENGINES:
        raise BatchError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
    for what, value in (
        ("batch_size", batch_size),
        ("threads_per_worker", threads_per_worker),
        ("max_bytes", max_bytes),
    ):
        if value < 1:
            raise BatchError(f"{what} must be at least 1, not {value}")
    if workers is not None and workers < 1:
        raise BatchError(f"workers must be at least 1, not {workers}")
    if split_bytes < 1:
        raise BatchError(f"split_bytes must be at least 1, not {split_bytes}")
    if engine == "ray":
        _ray_module()  # a missing extra fails before any work
    options = BatchOptions(
        model=model,
        id_column=id_column,
        text_column=text_column,
        title_column=title_column,
        batch_size=batch_size,
        scores=scores,
        max_bytes=max_bytes,
        threads=threads_per_worker,
    )
    out_uri = str(out)
    out_fs, out_path = filesystem(out_uri)
    out_path = out_path.rstrip("/") or "/"
    identity = model_identity(model)
    files, systems = expand_inputs(
        [inputs] if isinstance(inputs, str) else list(inputs), input_format, exclude=(out_fs, out_path)
    )
    _check_jsonl_columns(files, systems, options)
    units = plan_units(files, systems, options, split_bytes)
    job = {
        "model": identity["name"],
        "model_sha256": identity["sha256"],
        "threatevents_version": __version__,
        "options": {
            "id_column": id_column,
            "text_column": text_column,
            "title_column": title_column,
            "input_format": input_format,
            "scores": scores,
            "max_bytes": max_bytes,
            "split_bytes": split_bytes,
        },
    }
    committed = _prepare_output(out_fs, out_path, job, resume=resume, overwrite=overwrite)
    planned = {u.key for u in units}
    done = {key: record for key, record in committed.items() if key in planned}
    keep = {f"{UNITS_DIR}/{key}.json" for key in done}
    for record in done.values():
        keep |= set(record["files"]) | set(record["error_files"])
    _clean_uncommitted(out_fs, out_path, keep)
    pending = [u for u in units if u.key not in done]

    state = BatchProgress(weight_total=sum(u.weight for u in units), units_total=len(units))
    state.weight_done = sum(u.weight for u in units if u.key in done)
    state.units_done = len(done)

    def step(documents: int, sentences: int, errors: int, weight: int) -> None:
        state.documents += documents
        state.sentences += sentences
        state.errors += errors
        if weight:
            state.weight_done += weight
            state.units_done += 1
        if progress:
            progress(state)

    if progress:
        progress(state)
    tagger_args = (options, systems, out_fs, out_path)
    if pending:
        if engine == "local":
            _run_local(pending, tagger_args, workers or available_cores(), step)
        else:
            _run_ray(pending, tagger_args, workers, address, step)
    manifest = _write_manifest(out_fs, out_path, units, job, identity)
    return BatchResult(out_uri, manifest, skipped_units=len(done))


def _check_jsonl_columns(files: Sequence[InputFile], systems: Sequence[pafs.FileSystem], options: BatchOptions) -> None:
    """Refuse a JSONL input whose first record lacks the id or text column (a typo in --text-column), before
    any work; later records without them become error rows."""
    for f in files:
        if f.kind != "jsonl" or f.size == 0:
            continue
        try:
            with systems[f.fs_index].open_input_file(f.path) as handle:
                first = next(
                    (
                        line
                        for _, line in _read_lines(handle, 0, min(f.size, 1 << 20), 1 << 20)
                        if line is None or line.strip()
                    ),
                    None,
                )
        except OSError as exc:
            raise BatchError(f"cannot read {f.display}: {exc}") from None
        if not first:
            continue
        try:
            record = json.loads(first)
        except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
            continue  # a broken line is an error row, not a reason to stop
        if not isinstance(record, dict):
            continue
        for option, column in (("id", options.id_column), ("text", options.text_column)):
            if column not in record:
                raise BatchError(
                    f"{f.display}: the first record has no {option} column {column!r} "
                    f"(it has: {', '.join(map(str, record)) or 'nothing'}); name it with --{option}-column"
                )


def _write_manifest(
    fs: pafs.FileSystem, root: str, units: Sequence[Unit], job: dict[str, Any], identity: dict[str, str]
) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    error_files: list[dict[str, Any]] = []
    documents = 0
    for unit in units:
        record = _read_json(fs, f"{root}/{UNITS_DIR}/{unit.key}.json")
        if not isinstance(record, dict):
            raise BatchError(f"unit {unit.key} of {unit.source} has no commit record; run again with --resume")
        files += [{"path": p, "rows": n, "source": unit.source} for p, n in record["files"].items()]
        error_files += [{"path": p, "rows": n, "source": unit.source} for p, n in record["error_files"].items()]
        documents += record["documents"]
    manifest = {
        "complete": True,
        "threatevents_version": __version__,
        "model": identity["name"],
        "model_kind": identity["kind"],
        "model_sha256": identity["sha256"],
        "options": job["options"],
        "schema": [f"{f.name}: {f.type}" for f in _written_schema(fs, root, files, bool(job["options"]["scores"]))],
        "documents": documents,
        "rows": sum(f["rows"] for f in files),
        "error_rows": sum(f["rows"] for f in error_files),
        "units": len(units),
        "files": files,
        "error_files": error_files,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    _write_json(fs, f"{root}/{MANIFEST}", manifest)
    return manifest


def _written_schema(fs: pafs.FileSystem, root: str, files: Sequence[dict[str, Any]], scores: bool) -> pa.Schema:
    """The schema of the sentence files written (with ``events`` when the model extracted events)."""
    import pyarrow.parquet as pq

    if not files:
        return sentence_schema(scores)
    with fs.open_input_file(f"{root}/{files[0]['path']}") as handle:
        return pq.read_schema(handle)


def read_manifest(out: str | Path) -> dict[str, Any] | None:
    """The manifest of a finished job at ``out``, or None when the job has not finished."""
    fs, root = filesystem(str(out))
    data = _read_json(fs, f"{root.rstrip('/')}/{MANIFEST}")
    return data if isinstance(data, dict) else None


def read_sentences(out: str | Path) -> pa.Table:
    """All sentence rows of a finished job, in manifest order (inputs, then units, then documents)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = read_manifest(out)
    if manifest is None:
        raise BatchError(f"{out}: no {MANIFEST}: the job has not finished")
    fs, root = filesystem(str(out))
    schema = sentence_schema(bool(manifest["options"]["scores"]))
    tables = [pq.read_table(f"{root.rstrip('/')}/{f['path']}", filesystem=fs) for f in manifest["files"]]
    return pa.concat_tables(tables) if tables else schema.empty_table()


def read_errors(out: str | Path) -> pa.Table:
    """All error rows of a finished job."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    manifest = read_manifest(out)
    if manifest is None:
        raise BatchError(f"{out}: no {MANIFEST}: the job has not finished")
    fs, root = filesystem(str(out))
    tables = [pq.read_table(f"{root.rstrip('/')}/{f['path']}", filesystem=fs) for f in manifest["error_files"]]
    return pa.concat_tables(tables) if tables else error_schema().empty_table()
