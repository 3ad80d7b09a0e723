"""Command-line interface: parses arguments, calls the library, formats output. No logic of its own."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ._version import __version__

T = TypeVar("T")

if TYPE_CHECKING:
    from .corpus import Corpus, Document
    from .events import ReadReport as EventReadReport
    from .export import ExportFormat
    from .feedback import EventFeedback
    from .ingest import IngestedDocument
    from .tagging import TaggedSentence

app = typer.Typer(
    help="Find cyber events in threat reports, sentence by sentence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True, soft_wrap=True)  # no wrapping: one message, one line, whatever the width

ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model",
        "-m",
        help="Model directory, 'default', 'linear' or 'events' (also extracts structured events). "
        "Default: the shipped default model.",
    ),
]
VerboseOpt = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Show details: each corpus line dropped or joined (file and line), library messages."
    ),
]
# Help texts are rendered as Rich markup: a literal "[word]" must be escaped or it disappears.
TRANSFORMER = escape("[transformer]")


class Kind(StrEnum):
    """Model kinds ``train`` can fit (``threatevents.models.MODEL_KINDS``)."""

    linear = "linear"
    transformer = "transformer"


class Split(StrEnum):
    test = "test"
    dev = "dev"
    train = "train"
    all = "all"


class UserError(Exception):
    """Raised for anything the user can fix; printed without a traceback."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    from .corpus import CorpusFormatError
    from .ingest import ExtractorUnavailableError, IngestError
    from .labels import LabelError
    from .models import ModelLoadError

    try:
        yield
    except (
        UserError,
        ExtractorUnavailableError,
        CorpusFormatError,
        IngestError,
        LabelError,
        ModelLoadError,
        OSError,
        ValueError,
        KeyError,
    ) as exc:
        raise _fail(_message(exc)) from None


def _message(exc: BaseException) -> str:
    """One line for the user: no ``[Errno 2]``, no quotes from ``KeyError``'s repr."""
    if isinstance(exc, KeyError) and exc.args:
        return str(exc.args[0])
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return str(exc)


def _setup_logging(verbose: bool) -> None:
    # In a terminal, Rich keeps log lines above the progress bar; elsewhere (a pipe, a log file, CI) one
    # record is one plain line, not wrapped at 80 columns.
    handler: logging.Handler
    if err.is_terminal:
        handler = RichHandler(console=err, show_time=False, show_path=False, markup=False)
        handler.setFormatter(logging.Formatter("%(message)s"))
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler], force=True)
    # --verbose shows this package's DEBUG details (e.g. each corpus line dropped), not every library's.
    logging.getLogger("threatevents").setLevel(logging.DEBUG if verbose else logging.NOTSET)


def _check_writable(path: Path, option: str, *, folder: bool) -> None:
    """Refuse an output path that cannot be written, before any work is done.

    ``folder``: the option names a folder (it may exist); otherwise a file (it may not be a folder).
    Missing parent folders are fine (they are created), as long as the nearest existing one is a
    writable folder.
    """
    if path.is_dir() and not folder:
        raise UserError(f"{option} {path} is a folder; give a file name")
    if path.exists() and not path.is_dir() and folder:
        raise UserError(f"{option} {path} is a file; give a folder")
    parent = path if folder else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UserError(f"cannot write {option} {path}: {parent} is not a folder")
    if not os.access(parent if not path.exists() else path, os.W_OK):
        raise UserError(f"cannot write {option} {path}: permission denied")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"threatevents {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """threatevents: tag each sentence of a report with AttackDatabreach, AttackPhishing, AttackRansom,
    DiscoverVulnerability, PatchVulnerability, or O."""


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _read_corpus(corpus_dir: Path, strict: bool, split_file: Path | None = None, *, verbose: bool = False) -> Corpus:
    from .corpus import read_corpus

    with err.status(f"reading {corpus_dir}"):
        corpus = read_corpus(corpus_dir, strict=strict, split_file=split_file)
    fixes = ", ".join(f"{k} {v}" for k, v in sorted(corpus.report.fixes.items()))
    n = len(corpus)
    hint = "; --verbose names each line dropped or joined" if corpus.report.warnings and not verbose else ""
    err.print(
        f"read {n} document{'s' if n != 1 else ''}" + (f" (recovered: {fixes}{hint})" if fixes else ""),
        highlight=False,
        markup=False,
    )
    return corpus


@app.command()
def train(
    corpus_dir: Annotated[Path, typer.Argument(help="Corpus folder (docs/ + splits.json) or folder of .txt files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the model to.")],
    kind: Annotated[Kind, typer.Option(help="Model kind.")] = Kind.linear,
    split_file: Annotated[Path | None, typer.Option(help="splits.json to use instead of the corpus's own.")] = None,
    feedback: Annotated[str | None, typer.Option(help="Database URL of reviewed sentences to add to train.")] = None,
    base_model: Annotated[str | None, typer.Option(help=f"{TRANSFORMER} local Hugging Face model folder.")] = None,
    epochs: Annotated[int | None, typer.Option(help=f"{TRANSFORMER} training epochs.", min=1)] = None,
    learning_rate: Annotated[float | None, typer.Option(help=f"{TRANSFORMER} learning rate, in (0, 1).")] = None,
    batch_size: Annotated[int | None, typer.Option(help=f"{TRANSFORMER} batch size.", min=1)] = None,
    max_length: Annotated[int | None, typer.Option(help=f"{TRANSFORMER} max tokens per input (8 to 512).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same model).", min=0)] = None,
    events_dir: Annotated[
        Path | None,
        typer.Option(help=f"{TRANSFORMER} CASIE event annotation folder: also learn which tokens are triggers."),
    ] = None,
    event_heads: Annotated[
        bool,
        typer.Option(
            "--event-heads",
            help=f"{TRANSFORMER} also learn the event extractor (triggers, realis, arguments and their roles) "
            "from --events-dir; each sentence is read with its neighbours (context=neighbours).",
        ),
    ] = False,
    param: Annotated[
        list[str] | None, typer.Option("--set", help="Other config field, KEY=VALUE (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat every recoverable corpus problem as an error.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Train on `train`, tune thresholds on `dev`, score `test`, and save the model directory."""
    from .models import model_class
    from .train import parse_overrides, train_and_save

    _setup_logging(verbose)
    with _user_errors():
        _check_writable(out, "--out", folder=True)
        overrides = parse_overrides(param or [])
        named = {
            "base_model": base_model,
            "epochs": epochs,
            "learning_rate": learning_rate,
            "batch_size": batch_size,
            "max_length": max_length,
            "seed": seed,
            "events_dir": str(events_dir) if events_dir else None,
        }
        overrides.update({k: v for k, v in named.items() if v is not None})
        if event_heads:
            if kind.value != "transformer":
                raise UserError("--event-heads needs --kind transformer")
            if events_dir is None:
                raise UserError("--event-heads learns from CASIE annotation: give --events-dir")
            overrides["events"] = True
            overrides.setdefault("context", "neighbours")
        model_class(kind.value).config_class.from_dict(overrides)  # a bad setting fails now, not after reading
        for option, folder in (("--base-model", base_model), ("--events-dir", events_dir)):
            if folder is not None and not Path(folder).is_dir():
                raise UserError(f"{option} {folder}: no such folder")
        corpus = _read_corpus(corpus_dir, strict, split_file, verbose=verbose)
        feedback_docs: list[Document] = []
        event_feedback: list[EventFeedback] = []
        if feedback:
            try:  # the one place the CLI reads the workbench store
                from .service.feedback_source import load_event_feedback, load_feedback_documents
            except ImportError as exc:
                raise UserError(f"--feedback needs the 'serve' extra ({exc.name} is missing)") from None

            feedback_docs = _load_feedback(load_feedback_documents, feedback)
            event_feedback = _load_feedback(load_event_feedback, feedback)
            n_reviewed = sum(len(d.sentences) for d in feedback_docs)
            n_events = sum(len(f.reviewed) for f in event_feedback)
            err.print(
                f"adding {n_reviewed} reviewed sentences to train"
                + (f" and {n_events} sentences of reviewed events" if n_events else ""),
                markup=False,
            )
            if n_events and not overrides.get("events"):
                err.print("(reviewed events train only an event extractor: --event-heads)", markup=False)
        with err.status(f"training a {kind.value} model"):
            model = train_and_save(
                corpus, out, kind.value, overrides, feedback=feedback_docs, event_feedback=event_feedback
            )
    err.print(f"saved {kind.value} model to {out} (fit {model.metrics.get('fit_seconds')} s)", markup=False)
    for split in ("dev", "test"):
        if split in model.metrics:
            m = model.metrics[split]
            err.print(
                f"{split}: weighted F1 {m['weighted_f1']:.3f}, event macro F1 {m['events_macro_f1']:.3f}, "
                f"document micro F1 {m['doc_micro_f1']:.3f}",
                highlight=False,
            )


def _database_problem(what: str, url: str, exc: BaseException) -> str:
    """One line about a database failure, naming the URL without its password."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except SQLAlchemyError:
        shown = "(not a database URL)"
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return f"{what} {shown}: {first_line}"


def _load_feedback(load: Callable[[str], list[T]], url: str) -> list[T]:
    """Reviewed sentences from the database at ``url``; any database failure is one line for the user."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return load(url)
    except (SQLAlchemyError, ImportError) as exc:
        raise UserError(_database_problem("cannot read reviews from --feedback", url, exc)) from None


@app.command()
def evaluate(
    corpus_dir: Annotated[Path, typer.Argument(help="Corpus folder (docs/ + splits.json) or folder of .txt files.")],
    model: ModelOpt = None,
    split: Annotated[
        Split, typer.Option(help="Which split. A folder without splits.json is evaluated whole.")
    ] = Split.test,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a report folder (Markdown + PNG plots) here.")] = None,
    split_file: Annotated[Path | None, typer.Option(help="splits.json to use instead of the corpus's own.")] = None,
    events_dir: Annotated[
        Path | None,
        typer.Option(help="CASIE event annotation folder: also score the model's structured events against it."),
    ] = None,
    strict: Annotated[
        bool, typer.Option(help="Treat every recoverable corpus (or annotation) problem as an error.")
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Score a model on a corpus split: sentence- and document-level metrics (and events, with --events-dir)."""
    from .evaluate import evaluate_model
    from .models import load_model, resolve_model_path
    from .report import render_event_table, render_table, write_json, write_report

    _setup_logging(verbose)
    with _user_errors():
        if json_path:
            _check_writable(json_path, "--json", folder=False)
        if report:
            _check_writable(report, "--report", folder=True)
        if events_dir is not None and not events_dir.is_dir():
            raise UserError(f"--events-dir {events_dir}: no such folder")
        loaded = load_model(model)
        corpus = _read_corpus(corpus_dir, strict, split_file, verbose=verbose)
        docs = corpus.split(split.value if corpus.splits is not None else "all")
        if not docs:
            raise UserError(f"split {split.value!r} has no documents in {corpus_dir}")
        label = split.value if corpus.splits is not None else "all"
        with err.status(f"scoring {sum(len(d.sentences) for d in docs)} sentences"):
            result = evaluate_model(loaded, docs, split=label)
        if events_dir is not None:
            from .event_evaluation import evaluate_events

            with err.status(f"scoring events against {events_dir}"):
                result.events, annotation = evaluate_events(loaded, docs, events_dir, strict=strict)
            _report_annotation(annotation, events_dir)
        typer.echo("", err=True)
        Console().print(render_table(result, title=f"{resolve_model_path(model)} on {corpus_dir} [{label}]"))
        if result.events is not None:
            Console().print(render_event_table(result.events))
        if json_path:
            write_json(result, json_path)
            err.print(f"wrote {json_path}", markup=False)
        if report:
            write_report(result, report, title=f"{loaded.kind} model on {corpus_dir.name} ({label})")
            err.print(f"wrote report to {report}", markup=False)


def _report_annotation(report: EventReadReport, folder: Path) -> None:
    """One line on what reading CASIE annotation corrected or skipped."""
    parts = [f"read {report.documents} annotated documents from {folder}"]
    if report.shifted:
        parts.append(f"offsets corrected in {len(report.shifted)}")
    dropped = sum(report.dropped_events.values()) + sum(report.dropped_arguments.values())
    if report.skipped_files or dropped:
        parts.append(
            f"skipped {len(report.skipped_files)} unreadable files, {sum(report.dropped_events.values())} events and "
            f"{sum(report.dropped_arguments.values())} arguments that cannot be corrected (--strict refuses them)"
        )
    err.print("; ".join(parts), highlight=False, markup=False)
    for problem in report.problems[:5]:
        err.print(f"  {problem}", highlight=False, markup=False)
    if len(report.problems) > 5:
        err.print(f"  ... and {len(report.problems) - 5} more", highlight=False)


@app.command("events-score")
def events_score(
    gold_dir: Annotated[Path, typer.Argument(help="Folder of gold CASIE annotation (or its annotation/ folder).")],
    pred_dir: Annotated[Path, typer.Argument(help="Folder of predicted events as CASIE JSON files, <id>.json.")],
    ids: Annotated[
        Path | None, typer.Option(help="Score only these documents: a file with one document id a line.")
    ] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the scores as JSON here.")] = None,
    strict: Annotated[bool, typer.Option(help="Refuse any file or span the reader cannot correct.")] = False,
) -> None:
    """Score a folder of predicted CASIE JSON files against gold annotation (TextEE's event scores)."""
    import json

    from .event_metrics import score_event_dirs
    from .report import render_event_table

    _setup_logging(False)
    with _user_errors():
        if json_path:
            _check_writable(json_path, "--json", folder=False)
        wanted = None
        if ids is not None:
            wanted = [line.strip() for line in ids.read_text(encoding="utf-8").splitlines() if line.strip()]
            if not wanted:
                raise UserError(f"{ids} lists no document ids")
        for folder in (gold_dir, pred_dir):
            if not folder.is_dir():
                raise UserError(f"not a folder: {folder}")
        scores, gold_report, pred_report = score_event_dirs(gold_dir, pred_dir, ids=wanted, strict=strict)
        if not scores.documents:
            raise UserError(f"no gold documents to score in {gold_dir}" + (f" among the ids in {ids}" if ids else ""))
        _report_annotation(gold_report, gold_dir)
        _report_annotation(pred_report, pred_dir)
        if scores.missing_predictions or scores.text_mismatches:
            err.print(
                f"{scores.missing_predictions} gold documents have no prediction file (all their events missed); "
                f"{scores.text_mismatches} prediction files have another text than the gold one",
                highlight=False,
                markup=False,
            )
        Console().print(
            render_event_table(scores, title=f"{pred_dir} against {gold_dir} ({scores.documents} documents)")
        )
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(scores.to_dict(), indent=2) + "\n", encoding="utf-8")
            err.print(f"wrote {json_path}", markup=False)


@dataclass(frozen=True)
class _Input:
    """One document to tag: where to read it (``-``: standard input), its name in the records, or why it cannot be."""

    source: str
    name: str
    error: str | None = None


def _display_name(name: str) -> str:
    """A file name that can be written as UTF-8: undecodable bytes (kept by the OS as surrogates) become U+FFFD."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _same_file(a: os.stat_result, b: os.stat_result | None) -> bool:
    return b is not None and (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _collect_inputs(paths: list[str], output: Path | None) -> list[_Input]:
    """Expand the arguments into documents, named as given (a file) or relative to their folder argument.

    A path that cannot be read becomes an input holding its error: it is reported in its turn and
    the others are still tagged. Naming the output file as an input is a usage error; a folder's
    walk skips it (and hidden files and folders).
    """
    try:
        out_stat = output.stat() if output else None
    except OSError:
        out_stat = None
    inputs: list[_Input] = []
    for raw in paths:
        if raw == "-":
            inputs.append(_Input("-", "stdin"))
            continue
        path = Path(raw)
        try:
            st = path.stat()
        except OSError as exc:
            reason = "no such file or folder" if exc.errno == errno.ENOENT else exc.strerror or str(exc)
            inputs.append(_Input(raw, _display_name(raw), f"{_display_name(raw)}: {reason}"))
            continue
        if _same_file(st, out_stat):
            raise UserError(f"{raw} is also the --output path; refusing to write over an input")
        if not path.is_dir():
            inputs.append(_Input(raw, _display_name(raw)))
            continue
        found = [
            _Input(str(p), _display_name(p.relative_to(path).as_posix()))
            for p in sorted(path.rglob("*"))
            if p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
            and not _same_file(p.stat(), out_stat)
        ]
        name = _display_name(raw)
        inputs += found or [_Input(raw, name, f"{name}: no files in this folder (hidden ones are skipped)")]
    return inputs


def _read_stdin(max_bytes: int) -> bytes:
    """At most ``max_bytes + 1`` bytes of standard input: enough to tell that it is over the limit."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise OSError(errno.EBADF, "standard input is not available")
    chunks: list[bytes] = []
    left = max_bytes + 1
    while left > 0:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _ingest(item: _Input, max_bytes: int) -> IngestedDocument:
    from .ingest import IngestError, TooLargeError, ingest_bytes, ingest_path

    if item.error:
        raise IngestError(item.error)
    if item.source != "-":
        return ingest_path(item.source, max_bytes=max_bytes, name=item.name)
    try:
        data = _read_stdin(max_bytes)
    except OSError as exc:
        raise IngestError(f"{item.name}: cannot read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise TooLargeError(f"{item.name}: more than the limit of {max_bytes:,} bytes (--max-bytes); stopped reading")
    return ingest_bytes(data, name=item.name, max_bytes=max_bytes)


def _open_output(path: Path) -> TextIO:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8", newline="")


def _output_target(raw: str | None) -> tuple[Path | None, Path | None]:
    """``--output`` as a path, and the same path when it names a folder: one that exists, or any path written
    with a trailing separator (``-o reports/``: a folder to create, not a file named ``reports``)."""
    if raw is None:
        return None, None
    if not raw:
        raise _fail("--output is empty; give a file or a folder")
    path = Path(raw)
    separators = tuple(sep for sep in (os.sep, os.altsep) if sep)
    return path, path if raw.endswith(separators) or path.is_dir() else None


def _format_help() -> str:
    from .export import FORMATS

    return "; ".join(f"{f.name}: {f.description}" for f in FORMATS.values()) + "."


@app.command()
def tag(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursively) or - for standard input.")],
    model: ModelOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help=f"Output format. {_format_help()}")] = "jsonl",
    output_arg: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write here instead of stdout (missing folders are created). An existing folder, or a path ending "
            "in / (created), gets one file per input document (with --format stix: one bundle per input file); "
            "otherwise all goes to one file (with --format stix: one bundle holding a report per document).",
            show_default=False,
        ),
    ] = None,
    max_bytes: Annotated[
        int, typer.Option(help="Refuse an input (file or standard input) larger than this many bytes.", min=1)
    ] = 20 * 1024 * 1024,
    batch_docs: Annotated[int, typer.Option(help="Documents scored per model call.", min=1)] = 32,
    no_events: Annotated[
        bool,
        typer.Option(
            "--no-events",
            help="Sentence labels only: a model with an event extractor does not run it (records carry no events).",
        ),
    ] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Tag reports (text, HTML, PDF, DOCX) and write one record per sentence.

    Records are named by the path as given for a file, relative to the folder for a folder's files,
    and "stdin". An input that cannot be tagged is reported, the others are still tagged, and the
    exit code is 1.
    """
    from .export import FORMATS
    from .ingest import IngestError, check_extractors
    from .models import load_model
    from .tagging import tag_documents

    _setup_logging(verbose)
    output, folder = _output_target(output_arg)
    with _user_errors():
        check_extractors()  # a broken install fails here, naming the package, not on the first HTML file
        if fmt not in FORMATS:
            raise UserError(f"--format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        export_format = FORMATS[fmt]
        if output:
            _check_writable(output, "--output", folder=folder is not None)
        inputs = _collect_inputs(paths, output)
        loaded = load_model(model)
        if no_events:
            loaded.events_enabled = False
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
        sink: TextIO = _open_output(output) if output and not folder else sys.stdout
    failures = 0
    tagged_all: list[list[TaggedSentence]] = []
    streaming = export_format.streamable or folder is not None
    names: set[str] = set()
    try:
        with _progress() as progress:
            task = progress.add_task("tagging", total=len(inputs))
            for start in range(0, len(inputs), batch_docs):
                docs = []
                for item in inputs[start : start + batch_docs]:
                    try:
                        docs.append(_ingest(item, max_bytes))
                    except IngestError as exc:
                        failures += 1
                        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
                    progress.advance(task)
                tagged = tag_documents(loaded, docs)
                if streaming:
                    _write(tagged, export_format, sink, folder, names, continued=start > 0)
                else:
                    tagged_all += tagged
            if not streaming:
                _write(tagged_all, export_format, sink, folder, names, continued=False)
        sink.flush()
        if output and not folder:
            sink.close()
    except BrokenPipeError:
        raise  # the reader went away (`| head`): Typer exits 1 quietly
    except OSError as exc:
        raise _fail(f"cannot write {output or 'the output'}: {_message(exc)}", code=1) from None
    finally:
        if output and not folder:
            with suppress(OSError):  # already reported; closing again must not raise a second time
                sink.close()
    if failures:
        raise _fail(f"{failures} of {len(inputs)} input(s) could not be tagged", code=1)


def _write(
    tagged: list[list[TaggedSentence]],
    export_format: ExportFormat,
    sink: TextIO,
    folder: Path | None,
    names: set[str],
    *,
    continued: bool,
) -> None:
    """Write documents to ``sink`` (``continued``: after earlier batches), or each to its own file in ``folder``
    (``names``: the file names used so far)."""
    if folder is None:
        if tagged or not continued:
            export_format.write(tagged, sink, continued=continued)
        return
    for doc in tagged:
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in (doc[0].document if doc else "document"))
        name, n = f"{stem}.{export_format.extension}", 1
        while name in names:
            n += 1
            name = f"{stem}-{n}.{export_format.extension}"
        names.add(name)
        with (folder / name).open("w", encoding="utf-8", newline="") as out:
            export_format.write([doc], out)


class BatchEngine(StrEnum):
    local = "local"
    ray = "ray"


class BatchInputFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"
    files = "files"


@app.command("tag-batch")
def tag_batch_command(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="JSONL or Parquet files, folders (recursively), globs, or report files (text, HTML, PDF, DOCX); "
            "local paths or s3://, gs://, abfs:// URIs.",
            show_default=False,
        ),
    ],
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder (local or a URI): Parquet + manifest.")],
    engine: Annotated[BatchEngine, typer.Option(help="local: processes on this machine; ray: Ray Data.")] = (
        BatchEngine.local
    ),
    address: Annotated[
        str | None,
        typer.Option(
            help=f"{escape('[ray]')} Cluster to join (auto, ray://HOST:10001). Default: a local one on 127.0.0.1."
        ),
    ] = None,
    input_format: Annotated[
        BatchInputFormat | None,
        typer.Option(
            help="Read every input as this. Default: by extension (.jsonl/.ndjson/.json, .parquet/.pq, else files)."
        ),
    ] = None,
    id_column: Annotated[str, typer.Option(help="Document id field (JSONL) or column (Parquet).")] = "id",
    text_column: Annotated[str, typer.Option(help="Text field or column.")] = "text",
    title_column: Annotated[str, typer.Option(help="Title field or column, used when present.")] = "title",
    model: ModelOpt = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (local) or actors (ray). Default: one per core.", min=1)
    ] = None,
    threads_per_worker: Annotated[int, typer.Option(help="onnxruntime threads in each worker.", min=1)] = 1,
    batch_size: Annotated[int, typer.Option(help="Documents scored per model call.", min=1)] = 64,
    scores: Annotated[bool, typer.Option(help="Add a score_<label> column per label.")] = False,
    max_bytes: Annotated[int, typer.Option(help="A document larger than this is an error row.", min=1)] = (
        20 * 1024 * 1024
    ),
    resume: Annotated[
        bool, typer.Option(help="Go on with an interrupted job: skip the parts already written.")
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Delete an earlier job's output in --out first.")] = False,
    verbose: VerboseOpt = False,
) -> None:
    """Tag many documents into Parquet (one row per sentence), on every core or on a Ray cluster.

    Writes sentences/*.parquet, errors/*.parquet (documents that could not be tagged, with the reason) and a
    _SUCCESS manifest (files, row counts, model and its sha256). See docs/batch.md.
    """
    from rich.progress import TimeRemainingColumn

    try:
        from .batch import BatchError, BatchProgress, tag_batch
    except ImportError as exc:  # pragma: no cover - pyarrow missing
        raise _fail(f"tag-batch needs pyarrow ({exc.name} is missing): pip install 'threatevents[batch]'") from None

    _setup_logging(verbose)
    if resume and overwrite:
        raise _fail("give --resume or --overwrite, not both")
    if address and engine is not BatchEngine.ray:
        raise _fail("--address is for --engine ray")
    progress_bar = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[docs]:,} docs"),
        TextColumn("{task.fields[rate]:,.0f} sentences/s"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )
    task = progress_bar.add_task("tagging", total=None, docs=0, rate=0.0)

    def show(state: BatchProgress) -> None:
        progress_bar.update(
            task,
            total=max(state.weight_total, 1),
            completed=state.weight_done,
            docs=state.documents,
            rate=state.sentences_per_second,
        )

    with _user_errors():
        try:
            with progress_bar:
                result = tag_batch(
                    inputs,
                    out,
                    engine=engine.value,
                    model=model,
                    input_format=input_format.value if input_format else None,
                    id_column=id_column,
                    text_column=text_column,
                    title_column=title_column,
                    workers=workers,
                    threads_per_worker=threads_per_worker,
                    batch_size=batch_size,
                    scores=scores,
                    max_bytes=max_bytes,
                    resume=resume,
                    overwrite=overwrite,
                    address=address,
                    progress=show,
                )
        except BatchError as exc:
            raise UserError(str(exc)) from None
    skipped = f", {result.skipped_units} part(s) kept from the earlier run" if result.skipped_units else ""
    err.print(
        f"tagged {result.documents:,} documents into {result.rows:,} sentence rows in {out}{skipped}",
        markup=False,
        highlight=False,
    )
    if result.error_rows:
        err.print(
            f"{result.error_rows:,} document(s) could not be tagged: the reasons are in {out}/errors/",
            markup=False,
            highlight=False,
        )


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).", min=0, max=65535)] = 8000,
    db: Annotated[str | None, typer.Option(help="Database URL (default: SQLite file threatevents.db).")] = None,
    model: ModelOpt = None,
    token_file: Annotated[Path | None, typer.Option(help="File holding the access token.")] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Behind a reverse proxy: its address(es), comma-separated ('*' = any), whose X-Forwarded-For "
            "header names the real client (used by the login throttle). Default: forwarded headers are ignored."
        ),
    ] = None,
) -> None:
    """Start the REST API and the review web page."""
    with _user_errors():
        try:
            from .service.server import serve as run_server
        except ImportError as exc:
            raise UserError(
                f"the service needs extra packages ({exc.name}): pip install 'threatevents[serve]'"
            ) from None
        from sqlalchemy.exc import SQLAlchemyError

        try:
            run_server(
                host=host,
                port=port,
                db_url=db,
                model_dir=model,
                token_file=token_file,
                forwarded_allow_ips=forwarded_allow_ips,
            )
        except SQLAlchemyError as exc:
            raise UserError(_database_problem("cannot open --db", db or "sqlite:///threatevents.db", exc)) from None


if __name__ == "__main__":
    app()
