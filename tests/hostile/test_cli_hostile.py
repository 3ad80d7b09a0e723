"""The CLI under user mistakes and odd inputs: every case exits 1 (an input could not be tagged) or 2 (a
usage error) with a one-line message, never a traceback, and finishes in bounded time and memory.

In-process cases use Typer's runner; the ones that need real pipes (standard input bigger than the
limit, a reader that goes away, a FIFO that would block whoever opens it) run the CLI in a subprocess
with a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from threatevents.cli import app

pytestmark = pytest.mark.hostile

SRC = Path(__file__).resolve().parents[2] / "src"
REPORT = "Ransomware encrypted 300 computers at Acme and demanded bitcoin.\n\nShares closed slightly higher."
runner = CliRunner(env={"COLUMNS": "200"})  # wide enough that no message is wrapped
TIMEOUT = 120  # seconds for a subprocess case; each takes a few


def invoke(args: list[str]) -> Result:
    result = runner.invoke(app, args)
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return result


def assert_clean_failure(result: Result, code: int, fragment: str) -> None:
    """Exit ``code``, and ``fragment`` is said on one line (not spread over a wrapped box)."""
    assert result.exit_code == code, result.output
    assert any(fragment in line for line in result.output.splitlines()), result.output


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.txt"
    path.write_text(REPORT)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Ransomware hit the city. | AttackRansom\nShares rose. | O\n")
    (folder / "b.txt").write_text("Phishing mails came. | AttackPhishing\nIt rained. | O\n")
    return folder


# ---------------------------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--batch-docs", "0"], 2, "--batch-docs"),
        (["--batch-docs", "-1"], 2, "--batch-docs"),
        (["--batch-docs", "many"], 2, "--batch-docs"),
        (["--max-bytes", "0"], 2, "--max-bytes"),
        (["--max-bytes", "-1"], 2, "--max-bytes"),
        (["--max-bytes", "1e3"], 2, "--max-bytes"),
        (["--format", "pdf"], 2, "--format must be one of"),
        (["--model", "no-such-model"], 2, "model not found"),
        (["--model", "linear", "--no-such-option"], 2, "No such option"),
    ],
)
def test_tag_option_mistakes(good: Path, args: list[str], code: int, fragment: str) -> None:
    result = invoke(["tag", str(good), *args])
    assert_clean_failure(result, code, fragment)
    assert result.stdout == ""


def test_tag_output_that_is_a_folder_gets_one_file_per_document(good: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(["tag", str(good), "--model", "linear", "-o", str(out)])
    assert result.exit_code == 0, result.output
    (written,) = out.iterdir()
    assert written.name.endswith(".jsonl") and written.read_text().count("\n") >= 1


def test_tag_output_folder_that_is_the_input_folder(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "r.txt").write_text(REPORT)
    result = invoke(["tag", str(tmp_path / "in"), "--model", "linear", "-o", str(tmp_path / "in")])
    assert_clean_failure(result, 2, "refusing to write over an input")
    assert [p.name for p in (tmp_path / "in").iterdir()] == ["r.txt"]


def test_tag_output_under_a_file(good: Path) -> None:
    result = invoke(["tag", str(good), "--model", "linear", "-o", str(good / "out.jsonl")])
    assert_clean_failure(result, 2, "is not a folder")
    assert good.read_text() == REPORT


def test_tag_output_that_is_an_input_is_refused_before_it_is_truncated(good: Path) -> None:
    result = invoke(["tag", str(good), "--model", "linear", "-o", str(good)])
    assert_clean_failure(result, 2, "refusing to write over an input")
    assert good.read_text() == REPORT


def test_tag_output_inside_the_folder_being_tagged_is_not_read_back(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "r.txt").write_text(REPORT)
    out = folder / "out.jsonl"
    out.write_text('{"left": "over from an earlier run"}\n')
    result = invoke(["tag", str(folder), "--model", "linear", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["document"] for line in out.read_text().splitlines()} == {"r.txt"}


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (a device that is always full)")
def test_tag_output_on_a_full_disk(good: Path) -> None:
    result = invoke(["tag", str(good), "--model", "linear", "-o", "/dev/full"])
    assert_clean_failure(result, 1, "No space left on device")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--split", "foo"], 2, "'foo' is not one of"),
        (["--json", "{tmp}"], 2, "--json"),
        (["--report", "{file}"], 2, "--report"),
        (["--json", "{file}/m.json"], 2, "is not a folder"),
        (["--split-file", "{tmp}/none.json"], 2, "split file not found"),
        (["--model", "{tmp}"], 2, "model"),
        (["--events-dir", "{tmp}/none"], 2, "--events-dir"),
    ],
)
def test_evaluate_mistakes(corpus: Path, tmp_path: Path, args: list[str], code: int, fragment: str) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    args = [a.format(tmp=tmp_path, file=file) for a in args]
    result = invoke(["evaluate", str(corpus), *(["--model", "linear"] if "--model" not in args else []), *args])
    assert_clean_failure(result, code, fragment)
    assert "error" in result.output.lower() or "Invalid value" in result.output


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["{tmp}/none", "{tmp}"], "not a folder"),
        (["{tmp}", "{tmp}/none"], "not a folder"),
        (["{tmp}", "{tmp}", "--ids", "{tmp}"], "Is a directory"),
        (["{tmp}", "{tmp}", "--ids", "{file}"], "no gold documents"),
        (["{tmp}", "{tmp}", "--json", "{tmp}"], "--json"),
        (["{tmp}", "{tmp}"], "no gold documents"),
    ],
)
def test_events_score_mistakes(tmp_path: Path, args: list[str], fragment: str) -> None:
    file = tmp_path / "file.txt"
    file.write_text("doc1\n")
    result = invoke(["events-score", *[a.format(tmp=tmp_path, file=file) for a in args]])
    assert_clean_failure(result, 2, fragment)


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--out", "{file}"], 2, "is a file; give a folder"),
        (["--out", "{file}/m"], 2, "is not a folder"),
        (["--out", "{tmp}/m", "--kind", "forest"], 2, "--kind"),
        (["--out", "{tmp}/m", "--epochs", "0"], 2, "--epochs"),
        (["--out", "{tmp}/m", "--batch-size", "-3"], 2, "--batch-size"),
        (["--out", "{tmp}/m", "--seed", "-1"], 2, "--seed"),
        (["--out", "{tmp}/m", "--set", "C"], 2, "expected KEY=VALUE"),
        (["--out", "{tmp}/m", "--set", "C=-1"], 2, "C must be positive"),
        (["--out", "{tmp}/m", "--set", "no_such_field=1"], 2, "no_such_field"),
        (["--out", "{tmp}/m", "--split-file", "{tmp}/none.json"], 2, "split file not found"),
    ],
)
def test_train_mistakes(corpus: Path, tmp_path: Path, args: list[str], code: int, fragment: str) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x")
    result = invoke(["train", str(corpus), *[a.format(tmp=tmp_path, file=file) for a in args]])
    assert_clean_failure(result, code, fragment)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("nonsense", "--feedback (not a database URL): Could not parse"),
        ("sqlite:///{file}", "file is not a database"),
        ("sqlite:///{tmp}/none.db", "no review database"),
        ("postgresql://analyst:s3cret@127.0.0.1:1/reviews", "--feedback postgresql://analyst:***@127.0.0.1:1/reviews"),
    ],
)
def test_train_feedback_database_mistakes(corpus: Path, tmp_path: Path, url: str, fragment: str) -> None:
    pytest.importorskip("sqlalchemy", reason="--feedback needs the serve extra")
    file = tmp_path / "file.txt"
    file.write_text("not a database")
    url = url.format(tmp=tmp_path, file=file)
    result = invoke(["train", str(corpus), "--out", str(tmp_path / "m"), "--feedback", url])
    assert_clean_failure(result, 2, fragment)
    assert "s3cret" not in result.output and not (tmp_path / "m").exists()


@pytest.mark.parametrize("option", ["--base-model", "--events-dir"])
def test_train_transformer_folders_that_do_not_exist(corpus: Path, tmp_path: Path, option: str) -> None:
    pytest.importorskip("torch", reason="the transformer kind needs the train extra")
    result = invoke(["train", str(corpus), "--out", str(tmp_path / "m"), "--kind", "transformer", option, "none"])
    assert_clean_failure(result, 2, f"{option} none: no such folder")


@pytest.mark.parametrize(
    ("files", "fragment"),
    [
        ({}, "no .txt corpus files"),
        ({"a.txt": b"\xff\xfe\x00junk | O\n"}, "not UTF-8"),
        ({"a.txt": b"A sentence. | AttackAliens\n"}, "AttackAliens"),
        ({"a.txt": b"A sentence. | O, AttackRansom\n"}, "'O'"),
    ],
)
def test_train_on_a_bad_corpus(tmp_path: Path, files: dict[str, bytes], fragment: str) -> None:
    folder = tmp_path / "c"
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    result = invoke(["train", str(folder), "--out", str(tmp_path / "m")])
    assert_clean_failure(result, 2, fragment)


def test_train_strict_on_a_messy_corpus(corpus: Path, tmp_path: Path) -> None:
    (corpus / "c.txt").write_text("A heading\nRansomware again. | AttackRansom\n")
    result = invoke(["train", str(corpus), "--out", str(tmp_path / "m"), "--strict"])
    assert_clean_failure(result, 2, "c.txt:1: line has no '|' separator")


@pytest.mark.parametrize("path", ["{tmp}/none", "{file}"])
def test_corpus_folder_that_is_missing_or_a_file(tmp_path: Path, path: str) -> None:
    file = tmp_path / "file.txt"
    file.write_text("x | O\n")
    for command in (["train", path, "--out", str(tmp_path / "m")], ["evaluate", path, "--model", "linear"]):
        command = [a.format(tmp=tmp_path, file=file) for a in command]
        assert_clean_failure(invoke(command), 2, "corpus folder not found")


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("nonsense", "cannot open --db (not a database URL): Could not parse"),
        ("sqlite:///{file}", "file is not a database"),
    ],
)
def test_serve_database_mistakes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, fragment: str) -> None:
    pytest.importorskip("fastapi", reason="serve needs the serve extra")
    # a mistake let through must fail the test, not start a server that never returns
    monkeypatch.setattr("uvicorn.run", lambda *args, **kwargs: pytest.fail("served despite a bad --db"))
    file = tmp_path / "file.txt"
    file.write_text("not a database " * 100)
    result = invoke(["serve", "--db", url.format(file=file), "--model", "linear"])
    assert_clean_failure(result, 2, fragment)


@pytest.mark.parametrize("port", ["-1", "65536", "http"])
def test_serve_port_out_of_range(port: str) -> None:
    assert_clean_failure(invoke(["serve", "--port", port]), 2, "--port")


# ---------------------------------------------------------------------------------------------- odd inputs


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "empty"),
        (b" \n\t\r\n" * 100, "empty"),
        (bytes(range(256)) * 64, "bad.bin:"),
        (b"\x00" * 4096, "bad.bin:"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100, "bad.bin:"),
        (b"PK\x03\x04" + os.urandom(512), "bad.bin:"),
    ],
)
def test_odd_files_are_one_error_each_and_the_others_are_tagged(
    tmp_path: Path, good: Path, content: bytes, fragment: str
) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(content)
    result = invoke(["tag", str(bad), str(good), "--model", "linear"])
    assert_clean_failure(result, 1, fragment)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "1 of 2 input(s)" in errors[1], result.stderr
    assert len(result.stdout.splitlines()) == 2  # the good file's two sentences


def test_folder_with_no_files(tmp_path: Path) -> None:
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / ".hidden").write_text(REPORT)
    result = invoke(["tag", str(tmp_path / "empty"), "--model", "linear"])
    assert_clean_failure(result, 1, "no files in this folder")


def test_symlink_loop_as_an_argument(tmp_path: Path, good: Path) -> None:
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    result = invoke(["tag", str(loop), str(dangling), str(good), "--model", "linear"])
    assert_clean_failure(result, 1, "loop: Too many levels of symbolic links")
    assert "dangling: no such file or folder" in result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_folder_holding_symlink_loops_is_walked_once(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "r.txt").write_text(REPORT)
    (folder / "sub" / "up").symlink_to(folder)  # a folder that holds itself
    (folder / "self").symlink_to(folder / "self")  # a link to itself
    result = invoke(["tag", str(folder), "--model", "linear"])
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["document"] for line in result.stdout.splitlines()] == ["sub/r.txt", "sub/r.txt"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_file_chmod_000(tmp_path: Path, good: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text(REPORT)
    locked.chmod(0)
    result = invoke(["tag", str(locked), str(good), "--model", "linear"])
    assert_clean_failure(result, 1, "locked.txt: cannot read the file (Permission denied)")


@pytest.mark.skipif(not Path("/proc/self/mem").is_file(), reason="needs Linux /proc (a file whose read fails)")
def test_file_whose_read_fails(good: Path) -> None:
    # readable by its mode even for root, but reading it from offset 0 fails with EIO
    result = invoke(["tag", "/proc/self/mem", str(good), "--model", "linear"])
    assert_clean_failure(result, 1, "/proc/self/mem: cannot read the file (Input/output error)")
    assert len(result.stdout.splitlines()) == 2


def test_file_names_with_markup_and_undecodable_bytes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "[bold]x[red].txt").write_text(REPORT)
    (folder / "[red]empty.txt").write_text("")
    (folder / os.fsdecode(b"\xff\xfe.txt")).write_text(REPORT)
    out = tmp_path / "out.jsonl"
    result = invoke(["tag", str(folder), str(tmp_path / "[/missing]"), "--model", "linear", "-o", str(out)])
    assert_clean_failure(result, 1, "[/missing]: no such file or folder")  # Rich markup would raise on "[/missing]"
    assert "[red]empty.txt: the file is empty" in result.stderr
    names = {json.loads(line)["document"] for line in out.read_text(encoding="utf-8").splitlines()}
    assert names == {"[bold]x[red].txt", "\ufffd\ufffd.txt"}


# ---------------------------------------------------------------------------------------------- real pipes


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}


def _cli(args: list[str]) -> subprocess.Popen[bytes]:
    """The CLI in a subprocess, stdout and stderr piped."""
    cmd = [sys.executable, "-m", "threatevents.cli", *args]
    return subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


# Runs the CLI and reports its own peak RSS on stderr when it exits, however it exits.
_MEASURED = (
    "import atexit, resource, sys\n"
    "peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
    "atexit.register(lambda: print('maxrss_kib', peak(), file=sys.stderr))\n"
    "from threatevents.cli import app\n"
    "app(sys.argv[1:])\n"
)


def _pipe_into_cli(total: int, limit: int, tmp_path: Path) -> tuple[int, int, str]:
    """Pipe ``total`` bytes (made on the fly) into ``tag - --max-bytes limit``.

    Returns the exit code, the bytes the pipe took before the CLI went away, and its stderr.
    """
    args = ["tag", "-", "--model", "linear", "--max-bytes", str(limit)]
    with (tmp_path / f"stderr-{total}").open("w+b") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MEASURED, *args],
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        stdin = proc.stdin
        assert stdin is not None
        written = 0

        def feed() -> None:
            nonlocal written
            block = b"Ransomware encrypted the servers. " * 1927  # ~64 KiB
            try:
                while written < total:
                    chunk = block[: total - written]
                    stdin.write(chunk)
                    written += len(chunk)
                stdin.close()
            except (BrokenPipeError, ValueError):
                pass  # the CLI stopped reading and exited: what we want

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            code = proc.wait(timeout=TIMEOUT)
        finally:
            proc.kill()
        feeder.join(timeout=10)
        stderr.seek(0)
        return code, written, stderr.read().decode()


def _maxrss_mib(stderr: str) -> float:
    line = next(line for line in stderr.splitlines() if line.startswith("maxrss_kib"))
    return int(line.split()[1]) / 1024


def test_stdin_over_the_limit_stops_reading_and_memory_stays_flat(tmp_path: Path) -> None:
    # issue 11 item 7: 3 GB piped into `tag -` took 3.2 GB RSS before --max-bytes was checked
    limit = 1000
    code_small, _, err_small = _pipe_into_cli(4 * limit, limit, tmp_path)
    code_big, written, err_big = _pipe_into_cli(50 * 1024 * 1024, limit, tmp_path)
    for code, stderr in ((code_small, err_small), (code_big, err_big)):
        assert code == 1 and "Traceback" not in stderr, stderr
    assert written < 1024 * 1024, f"the CLI took {written:,} bytes of its standard input"
    grew = _maxrss_mib(err_big) - _maxrss_mib(err_small)
    assert grew < 16, f"peak RSS grew by {grew:.0f} MiB with 50 MiB piped in"
    assert "stdin: more than the limit of 1,000 bytes (--max-bytes); stopped reading" in err_big


def test_fifo_and_devices_are_refused_without_being_opened(tmp_path: Path, good: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: none will
    inputs = [str(fifo), *(["/dev/zero"] if Path("/dev/zero").exists() else []), str(good)]
    proc = _cli(["tag", *inputs, "--model", "linear"])
    try:
        out, stderr_bytes = proc.communicate(timeout=TIMEOUT)
    finally:
        proc.kill()
    stderr = stderr_bytes.decode()
    assert proc.returncode == 1 and "Traceback" not in stderr, stderr
    assert f"{fifo}: not a regular file" in stderr
    assert len(out.decode().splitlines()) == 2


def test_reader_that_goes_away(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("Ransomware encrypted the servers of the city. " * 5000)
    proc = _cli(["tag", str(big), "--model", "linear"])
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # like `| head` exiting at once
    try:
        stderr = proc.stderr.read().decode()
        proc.wait(timeout=TIMEOUT)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
