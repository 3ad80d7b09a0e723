"""Command-line interface: parses arguments, calls the library, formats output. No logic of its own."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import __version__

if TYPE_CHECKING:
    from .corpus import Corpus
    from .tagging import TaggedSentence

app = typer.Typer(
    help="Find cyber events in threat reports, sentence by sentence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)

ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Model directory, 'default' or 'linear'. Default: the shipped default model."),
]


class UserError(Exception):
    """Raised for anything the user can fix; printed without a traceback."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@contextmanager
def _user_errors() -> Iterator[None]:
    from .corpus import CorpusFormatError
    from .ingest import IngestError
    from .labels import LabelError
    from .models import ModelLoadError

    try:
        yield
    except (
        UserError,
        CorpusFormatError,
        IngestError,
        LabelError,
        ModelLoadError,
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
        ValueError,
        KeyError,
    ) as exc:
        raise _fail(str(exc).strip("'\"")) from None


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_time=False, show_path=False)],
        force=True,
    )


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


def _read_corpus(corpus_dir: Path, strict: bool, split_file: Path | None = None) -> Corpus:
    from .corpus import read_corpus

    with err.status(f"reading {corpus_dir}"):
        corpus = read_corpus(corpus_dir, strict=strict, split_file=split_file)
    fixes = ", ".join(f"{k} {v}" for k, v in sorted(corpus.report.fixes.items()))
    err.print(f"read {len(corpus)} documents" + (f" (recovered: {fixes})" if fixes else ""), highlight=False)
    return corpus


@app.command()
def train(
    corpus_dir: Annotated[Path, typer.Argument(help="Corpus folder (docs/ + splits.json) or folder of .txt files.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write the model to.")],
    kind: Annotated[str, typer.Option(help="Model kind: linear or transformer.")] = "linear",
    split_file: Annotated[Path | None, typer.Option(help="splits.json to use instead of the corpus's own.")] = None,
    feedback: Annotated[str | None, typer.Option(help="Database URL of reviewed sentences to add to train.")] = None,
    base_model: Annotated[str | None, typer.Option(help="[transformer] local Hugging Face model folder.")] = None,
    epochs: Annotated[int | None, typer.Option(help="[transformer] training epochs.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="[transformer] learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="[transformer] batch size.")] = None,
    max_length: Annotated[int | None, typer.Option(help="[transformer] max tokens per input.")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (same seed, same model).")] = None,
    events_dir: Annotated[
        Path | None,
        typer.Option(help="[transformer] CASIE event annotation folder: also learn which tokens are triggers."),
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--set", help="Other config field, KEY=VALUE (repeatable).")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat every recoverable corpus problem as an error.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Train on `train`, tune thresholds on `dev`, score `test`, and save the model directory."""
    from .train import parse_overrides, train_and_save

    _setup_logging(verbose)
    with _user_errors():
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
        corpus = _read_corpus(corpus_dir, strict, split_file)
        feedback_docs = []
        if feedback:
            try:  # the one place the CLI reads the workbench store
                from .service.feedback_source import load_feedback_documents
            except ImportError as exc:
                raise UserError(f"--feedback needs the 'serve' extra ({exc.name} is missing)") from None

            feedback_docs = load_feedback_documents(feedback)
            err.print(f"adding {sum(len(d.sentences) for d in feedback_docs)} reviewed sentences to train")
        with err.status(f"training a {kind} model"):
            model = train_and_save(corpus, out, kind, overrides, feedback=feedback_docs)
    err.print(f"saved {kind} model to {out} (fit {model.metrics.get('fit_seconds')} s)")
    for split in ("dev", "test"):
        if split in model.metrics:
            m = model.metrics[split]
            err.print(
                f"{split}: weighted F1 {m['weighted_f1']:.3f}, event macro F1 {m['events_macro_f1']:.3f}, "
                f"document micro F1 {m['doc_micro_f1']:.3f}",
                highlight=False,
            )


@app.command()
def evaluate(
    corpus_dir: Annotated[Path, typer.Argument(help="Corpus folder (docs/ + splits.json) or folder of .txt files.")],
    model: ModelOpt = None,
    split: Annotated[
        str, typer.Option(help="test, dev, train or all. A folder without splits.json is evaluated whole.")
    ] = "test",
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write a report folder (Markdown + PNG plots) here.")] = None,
    split_file: Annotated[Path | None, typer.Option(help="splits.json to use instead of the corpus's own.")] = None,
    strict: Annotated[bool, typer.Option(help="Treat every recoverable corpus problem as an error.")] = False,
) -> None:
    """Score a model on a corpus split: sentence- and document-level metrics."""
    from .evaluate import evaluate_model
    from .models import load_model, resolve_model_path
    from .report import render_table, write_json, write_report

    _setup_logging(False)
    with _user_errors():
        if split not in ("test", "dev", "train", "all"):
            raise UserError(f"--split must be test, dev, train or all, not {split!r}")
        corpus = _read_corpus(corpus_dir, strict, split_file)
        docs = corpus.split(split if corpus.splits is not None else "all")
        if not docs:
            raise UserError(f"split {split!r} has no documents in {corpus_dir}")
        loaded = load_model(model)
        label = split if corpus.splits is not None else "all"
        with err.status(f"scoring {sum(len(d.sentences) for d in docs)} sentences"):
            result = evaluate_model(loaded, docs, split=label)
        typer.echo("", err=True)
        Console().print(render_table(result, title=f"{resolve_model_path(model)} on {corpus_dir} [{label}]"))
        if json_path:
            write_json(result, json_path)
            err.print(f"wrote {json_path}")
        if report:
            write_report(result, report, title=f"{loaded.kind} model on {corpus_dir.name} ({label})")
            err.print(f"wrote report to {report}")


def _collect_inputs(paths: list[str]) -> list[str]:
    out: list[str] = []
    for raw in paths:
        path = Path(raw)
        if raw == "-":
            out.append(raw)
        elif path.is_dir():
            out += sorted(
                str(p)
                for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
        elif path.exists():
            out.append(raw)
        else:
            raise UserError(f"no such file or folder: {raw}")
    if not out:
        raise UserError("no input files found")
    return out


@app.command()
def tag(
    paths: Annotated[list[str], typer.Argument(help="Files, folders (recursively) or - for standard input.")],
    model: ModelOpt = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="jsonl, csv, corpus, html or stix.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")] = None,
    max_bytes: Annotated[int, typer.Option(help="Refuse input files larger than this.")] = 20 * 1024 * 1024,
    batch_docs: Annotated[int, typer.Option(help="Documents scored per model call.")] = 32,
) -> None:
    """Tag reports (text, HTML, PDF, DOCX) and write one record per sentence."""
    from .export import FORMATS
    from .ingest import IngestError, ingest_bytes, ingest_path
    from .models import load_model
    from .tagging import tag_documents

    _setup_logging(False)
    formats = (*FORMATS, "stix")
    if fmt not in formats:
        raise _fail(f"--format must be one of {', '.join(formats)}")
    with _user_errors():
        inputs = _collect_inputs(paths)
        loaded = load_model(model)
    failures = 0
    tagged_all: list[list[TaggedSentence]] = []
    sink: TextIO = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    streaming = fmt in ("jsonl", "csv")
    try:
        with _progress() as progress:
            task = progress.add_task("tagging", total=len(inputs))
            for start in range(0, len(inputs), batch_docs):
                docs = []
                for item in inputs[start : start + batch_docs]:
                    try:
                        if item == "-":
                            docs.append(ingest_bytes(sys.stdin.buffer.read(), name="stdin", max_bytes=max_bytes))
                        else:
                            docs.append(ingest_path(item, max_bytes=max_bytes))
                    except (IngestError, OSError) as exc:
                        failures += 1
                        err.print(f"[bold red]error:[/] {exc}", highlight=False)
                    progress.advance(task)
                tagged = tag_documents(loaded, docs)
                if streaming:
                    _write(tagged, fmt, sink, header=start == 0)
                else:
                    tagged_all += tagged
            if not streaming:
                _write(tagged_all, fmt, sink, header=True)
    finally:
        if output:
            sink.close()
    if failures:
        raise _fail(f"{failures} of {len(inputs)} input(s) could not be tagged", code=1)


def _write(tagged: list[list[TaggedSentence]], fmt: str, sink: TextIO, *, header: bool) -> None:
    from .export import export_string

    if fmt == "stix":
        from .stix import to_stix_bundle

        for doc in tagged:  # one bundle per document, one per line
            bundle = to_stix_bundle(doc[0].document if doc else "document", [s.to_record() for s in doc])
            sink.write(bundle.serialize() + "\n")
        return
    text = export_string(tagged, fmt)
    if fmt == "csv" and not header:
        text = text.split("\n", 1)[1] if "\n" in text else ""
    sink.write(text)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    db: Annotated[str | None, typer.Option(help="Database URL (default: SQLite file threatevents.db).")] = None,
    model: ModelOpt = None,
    token_file: Annotated[Path | None, typer.Option(help="File holding the access token.")] = None,
) -> None:
    """Start the REST API and the review web page."""
    with _user_errors():
        try:
            from .service.server import serve as run_server
        except ImportError as exc:
            raise UserError(
                f"the service needs extra packages ({exc.name}): pip install 'threatevents[serve]'"
            ) from None
        run_server(host=host, port=port, db_url=db, model_dir=model, token_file=token_file)


if __name__ == "__main__":
    app()
