"""The CLI end to end on a small corpus written by the tests (conftest.make_documents)."""

import json

import pytest
from typer.testing import CliRunner

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


def test_tag_jsonl_from_file_and_stdin(model_dir, tmp_path):
    report = tmp_path / "r.txt"
    report.write_text(REPORT)
    result = runner.invoke(app, ["tag", str(report), "-", "--model", str(model_dir)], input=REPORT)
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
    assert result.exit_code == 2 and "no such file" in result.output


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
