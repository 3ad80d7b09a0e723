"""The CLI end to end on a small corpus written by the tests (conftest.make_documents)."""

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import run_without_training_libraries
from test_evaluate import REQUIRED_KEYS
from threatevents.cli import app
from threatevents.corpus import read_document

runner = CliRunner()
REPORT = "Ransomware encrypted 300 computers at Acme and demanded bitcoin.\n\nShares closed slightly higher."


@pytest.fixture(scope="module")
def model_dir(tiny_corpus_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "linear"
    result = runner.invoke(app, ["train", str(tiny_corpus_dir), "--out", str(out), "--set", "min_df=1"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("command", [[], ["train"], ["evaluate"], ["tag"], ["serve"]])
def test_help_on_every_command(command):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


def test_train_writes_model_with_test_metrics(model_dir):
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["eval_split"] == "test" and 0 <= metrics["test"]["weighted_f1"] <= 1
    assert (model_dir / "manifest.json").is_file()


def test_train_rejects_bad_config(tiny_corpus_dir, tmp_path):
    result = runner.invoke(app, ["train", str(tiny_corpus_dir), "--out", str(tmp_path / "m"), "--set", "C=-1"])
    assert result.exit_code == 2 and "C must be positive" in result.output


def test_evaluate_json_has_the_documented_keys(model_dir, tiny_corpus_dir, tmp_path):
    out = tmp_path / "m.json"
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(tiny_corpus_dir),
            "--model",
            str(model_dir),
            "--split",
            "dev",
            "--json",
            str(out),
            "--report",
            str(tmp_path / "rep"),
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert set(data) >= REQUIRED_KEYS
    assert data["n_documents"] == 12
    assert {p.name for p in (tmp_path / "rep").iterdir()} >= {"f1_by_label.png", "pr_curves.png"}


def test_evaluate_folder_without_splits_is_evaluated_whole(model_dir, tiny_corpus_dir, tmp_path):
    for path in sorted((tiny_corpus_dir / "docs").glob("te*.txt"))[:5]:
        (tmp_path / path.name).write_text(path.read_text())
    out = tmp_path / "m.json"
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--model", str(model_dir), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text())["n_documents"] == 5


def test_evaluate_bad_split(model_dir, tiny_corpus_dir):
    result = runner.invoke(app, ["evaluate", str(tiny_corpus_dir), "--model", str(model_dir), "--split", "x"])
    assert result.exit_code == 2 and "--split" in result.output
    assert "'x'" in result.output  # issue 10 defect 6: the message printed an unclosed quote ('x)


def test_tag_jsonl_from_file_and_stdin(model_dir, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", "r.txt", "-", "--model", str(model_dir)], input=REPORT)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["document"] for r in records] == ["r.txt", "r.txt", "stdin", "stdin"]
    assert records[0]["labels"] == ["AttackRansom"] and records[1]["labels"] == ["O"]
    assert REPORT[records[1]["start"] : records[1]["end"]] == records[1]["text"]


def test_tag_folder_recursively_to_csv_file(model_dir, tmp_path):
    (tmp_path / "in" / "sub").mkdir(parents=True)
    (tmp_path / "in" / "a.txt").write_text(REPORT)
    (tmp_path / "in" / "sub" / "b.txt").write_text("Phishing emails imitated a payroll notice.")
    out = tmp_path / "out.csv"
    result = runner.invoke(app, ["tag", str(tmp_path / "in"), "--model", str(model_dir), "-f", "csv", "-o", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("document,index") and len(lines) == 4 and "AttackPhishing" in lines[3]


def test_tag_corpus_output_trains_back(model_dir, tmp_path):
    (tmp_path / "r.txt").write_text(REPORT)
    out = tmp_path / "tagged.txt"
    assert (
        runner.invoke(
            app, ["tag", str(tmp_path / "r.txt"), "--model", str(model_dir), "-f", "corpus", "-o", str(out)]
        ).exit_code
        == 0
    )
    assert read_document(out, strict=True).labels == [("AttackRansom",), ("O",)]


def test_tag_html_page(model_dir, tmp_path):
    (tmp_path / "r.txt").write_text(REPORT + "\n<script>alert(1)</script>")
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", str(model_dir), "-f", "html"])
    assert result.exit_code == 0 and "<!doctype html>" in result.stdout
    assert "<script>alert(1)</script>" not in result.stdout and "AttackRansom × 1" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "png image"),
        (b"\xff\xfe\xfa" + b"\xa0\xc3" * 40, "decode"),
    ],
)
def test_tag_bad_input_is_a_clear_error_not_a_traceback(model_dir, tmp_path, content, message):
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    result = runner.invoke(app, ["tag", str(bad), "--model", str(model_dir)])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "error" in result.output.lower() and message in result.output.lower()


def test_tag_too_large_and_missing_files(model_dir, tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("word " * 1000)
    result = runner.invoke(app, ["tag", str(big), "--model", str(model_dir), "--max-bytes", "100"])
    assert result.exit_code == 1 and "limit" in result.output
    result = runner.invoke(app, ["tag", str(tmp_path / "nope.txt"), "--model", str(model_dir)])
    assert result.exit_code == 1 and "nope.txt: no such file" in result.output


def test_tag_output_in_a_missing_folder_is_created(tmp_path):
    # issue 10 defect 3: `-o missing/dir/out.jsonl` printed a FileNotFoundError traceback
    (tmp_path / "r.txt").write_text(REPORT)
    out = tmp_path / "missing" / "dir" / "out.jsonl"
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["labels"] for line in out.read_text().splitlines()] == [["AttackRansom"], ["O"]]


def test_tag_output_with_a_trailing_slash_is_a_folder_to_create(tmp_path):
    """`-o newdir/` (folder missing) wrote a FILE named newdir: Typer's Path drops the slash."""
    (tmp_path / "r.txt").write_text(REPORT)
    out = tmp_path / "missing" / "newdir"
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear", "-o", f"{out}/"])
    assert result.exit_code == 0, result.output
    assert out.is_dir()
    (written,) = out.iterdir()
    assert written.name.endswith("r.txt.jsonl")
    assert [json.loads(line)["labels"] for line in written.read_text().splitlines()] == [["AttackRansom"], ["O"]]
    (tmp_path / "afile").write_text("keep me")
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear", "-o", f"{tmp_path / 'afile'}/"])
    assert result.exit_code == 2 and "is a file; give a folder" in result.output
    assert (tmp_path / "afile").read_text() == "keep me"
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear", "-o", ""])
    assert result.exit_code == 2 and "--output is empty" in result.output


@pytest.mark.parametrize(
    "option", [["--batch-docs", "0"], ["--batch-docs", "-1"], ["--max-bytes", "0"], ["--max-bytes", "-5"]]
)
def test_tag_numbers_out_of_range_are_usage_errors(tmp_path, option):
    # issue 10 defect 3: --batch-docs 0 was a traceback, --batch-docs -1 exited 0 having tagged nothing
    (tmp_path / "r.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear", *option])
    assert result.exit_code == 2 and option[0] in result.output and "Traceback" not in result.output
    assert result.stdout == ""


def test_tag_missing_path_among_several_still_tags_the_others(tmp_path):
    # issue 10 defect 4: one missing path aborted the whole run with exit 2
    (tmp_path / "good.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", str(tmp_path / "nofile.txt"), str(tmp_path / "good.txt"), "--model", "linear"])
    assert result.exit_code == 1
    assert "nofile.txt: no such file or folder" in result.stderr
    assert "1 of 2 input(s) could not be tagged" in result.stderr
    assert [json.loads(line)["labels"] for line in result.stdout.splitlines()] == [["AttackRansom"], ["O"]]


def test_tag_folder_names_records_relative_to_the_argument(tmp_path, monkeypatch):
    # issue 10 defect 5: a/r.txt and b/r.txt were both named "r.txt"
    for sub, text in (("a", REPORT), ("b", "Phishing emails imitated a payroll notice.")):
        (tmp_path / "dir" / sub).mkdir(parents=True)
        (tmp_path / "dir" / sub / "r.txt").write_text(text)
    (tmp_path / "single.txt").write_text(REPORT)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["tag", "dir/", str(tmp_path / "single.txt"), "--model", "linear"])
    assert result.exit_code == 0, result.output
    names = [json.loads(line)["document"] for line in result.stdout.splitlines()]
    assert names == ["a/r.txt", "a/r.txt", "b/r.txt", str(tmp_path / "single.txt"), str(tmp_path / "single.txt")]


def test_tag_stdin_reads_at_most_one_byte_past_the_limit(monkeypatch):
    # issue 11 item 7: `tag -` read all of standard input (3 GB -> 3.2 GB RSS) before checking --max-bytes
    limit = 1000

    class Endless(io.RawIOBase):
        """Standard input that never ends, and fails the test if read past ``limit + 1`` bytes."""

        consumed = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:
            if Endless.consumed >= limit + 1:
                raise AssertionError(f"read past {limit + 1} bytes of standard input")
            n = min(len(buffer), limit + 1 - Endless.consumed)
            buffer[:n] = b"a" * n
            Endless.consumed += n
            return n

    stdin = io.BufferedReader(Endless(), buffer_size=64)
    # the runner only takes str/bytes input: hand it the stream as standard input's buffer as it is
    monkeypatch.setattr("typer.testing.make_input_stream", lambda input, charset: input)
    result = runner.invoke(app, ["tag", "-", "--model", "linear", "--max-bytes", str(limit)], input=stdin)
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "stdin: more than the limit of 1,000 bytes" in result.stderr
    assert Endless.consumed == limit + 1


def test_tag_stdin_at_the_limit_is_tagged():
    text = REPORT.encode()
    result = runner.invoke(app, ["tag", "-", "--model", "linear", "--max-bytes", str(len(text))], input=text)
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2


def test_train_help_keeps_bracketed_prefixes_and_every_option_has_help():
    # issue 10 defect 6: Rich markup ate "[transformer]"; --verbose had no help
    import typer.main

    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert result.output.count("[transformer]") == 7
    for command in typer.main.get_command(app).commands.values():
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{command.name} {param.opts} has no help"


def test_read_one_document_is_singular(model_dir, tiny_corpus_dir, tmp_path):
    # issue 10 defect 6: "read 1 documents"
    (tmp_path / "one.txt").write_text(sorted((tiny_corpus_dir / "docs").glob("te*.txt"))[0].read_text())
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "read 1 document\n" in result.stderr and "documents" not in result.stderr


MESSY = "A heading without a label\nHackers stole data. | AttackDatabreach\nNobody knows. | \nShares fell. | O\n"


def test_corpus_problems_are_one_summary_line_details_under_verbose(model_dir, tmp_path):
    # issue 10 defect 6: one warning line per dropped line on every run (14 on the real corpus)
    for i in range(5):
        (tmp_path / f"d{i}.txt").write_text(MESSY)
    result = runner.invoke(app, ["evaluate", str(tmp_path), "--model", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "10 lines dropped, joined or split in 5 files (dropped_fragment 5, empty_label 5)" in result.stderr
    assert "d3.txt:1" not in result.stderr and "--verbose" in result.stderr
    verbose = runner.invoke(app, ["evaluate", str(tmp_path), "--model", str(model_dir), "--verbose"])
    assert verbose.exit_code == 0, verbose.output
    assert sum(f"d{i}.txt:1: line has no '|'" in verbose.stderr for i in range(5)) == 5
    assert sum(f"d{i}.txt:3: empty label" in verbose.stderr for i in range(5)) == 5


def test_tag_with_tampered_model_is_refused(model_dir, tmp_path):
    import shutil

    copy = tmp_path / "m"
    shutil.copytree(model_dir, copy)
    (copy / "thresholds.json").write_text("{}")
    (tmp_path / "r.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", str(copy)])
    assert result.exit_code == 2 and "sha256" in result.output and "Traceback" not in result.output


def test_tag_with_shipped_linear_model(tmp_path):
    (tmp_path / "r.txt").write_text(REPORT)
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", "linear"])
    assert result.exit_code == 0 and json.loads(result.stdout.splitlines()[0])["labels"] == ["AttackRansom"]


def test_version():
    assert runner.invoke(app, ["--version"]).output.startswith("threatevents ")


def test_train_feedback_without_the_serve_extra_is_a_clear_error(tiny_corpus_dir, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "threatevents.service.feedback_source", None)  # as if SQLAlchemy were missing
    out = tmp_path / "m"
    result = runner.invoke(app, ["train", str(tiny_corpus_dir), "--out", str(out), "--feedback", "sqlite:///x.db"])
    assert result.exit_code == 2 and "--feedback needs the 'serve' extra" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not out.exists()


def _validate_stix(content: str) -> None:
    from stix2validator import ValidationOptions, validate_string

    result = validate_string(content, ValidationOptions())
    assert result.is_valid and not result.errors


def test_tag_stix_two_files_make_one_bundle_with_a_report_each(model_dir, tmp_path):
    """Issue 10 defect 9: two inputs wrote two JSON documents on two lines; now one bundle holds both reports."""
    (tmp_path / "a.txt").write_text(REPORT)
    (tmp_path / "b.txt").write_text("The C2 server at 10.20.30[.]40 sent phishing emails.")
    result = runner.invoke(
        app, ["tag", str(tmp_path / "a.txt"), str(tmp_path / "b.txt"), "--model", str(model_dir), "-f", "stix"]
    )
    assert result.exit_code == 0, result.output
    bundle = json.loads(result.stdout)  # one JSON document
    _validate_stix(result.stdout)
    reports = [obj for obj in bundle["objects"] if obj["type"] == "report"]
    assert sorted(Path(r["name"]).name for r in reports) == ["a.txt", "b.txt"]
    assert any(obj["type"] == "indicator" and "10.20.30.40" in obj["pattern"] for obj in bundle["objects"])


def test_tag_stix_into_a_folder_writes_one_bundle_per_input(model_dir, tmp_path):
    (tmp_path / "a.txt").write_text(REPORT)
    (tmp_path / "b.txt").write_text("Phishing emails imitated a payroll notice.")
    out = tmp_path / "bundles"
    out.mkdir()
    result = runner.invoke(
        app,
        [
            "tag",
            str(tmp_path / "a.txt"),
            str(tmp_path / "b.txt"),
            "--model",
            str(model_dir),
            "-f",
            "stix",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert len(files) == 2 and all(f.name.endswith(".stix.json") for f in files)
    for f in files:
        content = f.read_text()
        _validate_stix(content)
        assert [o["type"] for o in json.loads(content)["objects"]].count("report") == 1


def test_tag_help_says_how_stix_bundles_are_written():
    result = runner.invoke(app, ["tag", "--help"])
    text = " ".join(result.output.replace("│", " ").split())  # the help's wrapped lines, boxes removed
    assert "one bundle per input file" in text and "one bundle holding a report per document" in text
    for name in ("jsonl", "csv", "corpus", "html", "stix"):
        assert f"{name}:" in text


def test_tag_csv_is_safe_for_spreadsheets(model_dir, tmp_path):
    (tmp_path / "r.txt").write_text("=cmd|' /C calc'!A0 ransomware\n-1+2 shares fell.")
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", str(model_dir), "-f", "csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["text"][:2] for r in rows] == ["'=", "'-"]


def test_tag_html_page_has_paragraphs(model_dir, tmp_path):
    (tmp_path / "r.txt").write_text("Ransomware hit Acme. It paid.\n\nShares fell.\nThe end came. Slowly.")
    result = runner.invoke(app, ["tag", str(tmp_path / "r.txt"), "--model", str(model_dir), "-f", "html"])
    assert result.exit_code == 0, result.output
    doc = result.stdout.split("<div class='doc'>", 1)[1].split("</div>", 1)[0]
    assert doc.count("<p>") == 3 and "justify" not in result.stdout


def _hide_trafilatura(monkeypatch):
    """Make ``import trafilatura`` fail as on an install where its lxml extra did not resolve."""
    import sys

    for name in [m for m in sys.modules if m == "trafilatura" or m.startswith("trafilatura.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "trafilatura", None)


def test_tag_with_a_broken_extractor_install_fails_before_reading_naming_the_package(tmp_path, monkeypatch):
    report = tmp_path / "r.txt"
    report.write_text(REPORT)
    _hide_trafilatura(monkeypatch)
    result = runner.invoke(app, ["tag", str(report), "--model", "linear"])
    assert result.exit_code == 2
    assert "pip install trafilatura" in result.output and "Traceback" not in result.output
    assert '"labels"' not in result.output  # nothing was tagged


def test_serve_with_a_broken_extractor_install_is_one_clear_line(tmp_path, monkeypatch):
    pytest.importorskip("fastapi", reason="serve needs the serve extra")
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: pytest.fail("served despite a broken install"))
    _hide_trafilatura(monkeypatch)
    result = runner.invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--model", "linear", "--port", "0"])
    assert result.exit_code == 2
    assert "pip install trafilatura" in result.output and "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["jsonl", "stix", "casie"])
def test_tag_command_never_imports_training_libraries(tmp_path, fmt):
    """``threatevents tag`` with the shipped events model, from start-up to the written output, imports neither
    torch nor scikit-learn (they are for training and scoring; scikit-learn alone cost about 1.5 s and 130 MB at each
    start: ``benchmarks/bench_startup.py``)."""
    shipped = Path(__file__).resolve().parents[1] / "src" / "threatevents" / "shipped" / "events"
    if not (shipped / "manifest.json").is_file():
        pytest.skip("no shipped events model in this checkout")
    report = tmp_path / "report.txt"
    report.write_text("Hackers stole the records of Acme Corp.\n\nMicrosoft patched CVE-2024-1234 in Exchange.\n")
    out = tmp_path / f"out.{fmt}"
    run_without_training_libraries(f"""
        from threatevents.cli import app
        try:
            app([ "tag", {str(report)!r}, "--model", "events", "--format", {fmt!r}, "--output", {str(out)!r}])
        except SystemExit as exit:
            assert not exit.code, exit.code
        assert not {{"torch", "transformers", "sklearn"}} & set(sys.modules)
    """)
    assert "stole" in out.read_text(encoding="utf-8")
