"""Batch tagging under hostile inputs: files that lie about their format, huge lines and files, broken JSONL,
wrong column types, and a job killed with SIGKILL in the middle then resumed. Each bad document is an error
row and the job finishes; a killed job resumed gives the complete output, with no row written twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pa = pytest.importorskip("pyarrow", reason="batch tagging needs pyarrow (the batch extra)")
pq = pytest.importorskip("pyarrow.parquet", reason="batch tagging needs pyarrow (the batch extra)")

from threatevents.batch import (  # noqa: E402
    MAX_BAD_LINES_IN_A_ROW,
    BatchError,
    read_errors,
    read_manifest,
    read_sentences,
    tag_batch,
)

pytestmark = pytest.mark.hostile

SRC = Path(__file__).resolve().parents[2] / "src"
GOOD = "Ransomware encrypted 300 computers at Acme. The company restored them from backups."


def good_line(i: int) -> str:
    return json.dumps({"id": f"good-{i}", "text": f"{GOOD} Report {i}."})


def reasons(out: Path) -> list[str]:
    return [r["reason"] for r in read_errors(out).to_pylist()]


def test_files_that_lie_about_their_format(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "fake.parquet").write_text("this is plain text, not Parquet\n", encoding="utf-8")
    (tmp_path / "in" / "truncated.parquet").write_bytes(b"PAR1" + os.urandom(300) + b"PAR1")
    (tmp_path / "in" / "binary.jsonl").write_bytes(os.urandom(20_000))
    (tmp_path / "in" / "good.jsonl").write_text(good_line(0) + "\n", encoding="utf-8")
    result = tag_batch(str(tmp_path / "in"), tmp_path / "out", model="linear")
    assert result.documents == 1
    errors = read_errors(tmp_path / "out").to_pylist()
    by_source = {Path(r["source"]).name for r in errors}
    assert {"fake.parquet", "truncated.parquet", "binary.jsonl"} <= by_source
    assert any("not a readable Parquet file" in r["reason"] for r in errors)


def test_a_file_of_garbage_lines_is_given_up_in_bounded_work(tmp_path: Path) -> None:
    source = tmp_path / "garbage.jsonl"
    source.write_text("not json at all\n" * (MAX_BAD_LINES_IN_A_ROW * 5), encoding="utf-8")
    start = time.monotonic()
    tag_batch(str(source), tmp_path / "out", model="linear")
    assert time.monotonic() - start < 60
    found = reasons(tmp_path / "out")
    assert len(found) == MAX_BAD_LINES_IN_A_ROW + 1  # not 5,000 rows: the unit was given up
    assert "bad lines in a row" in found[-1]


def test_huge_lines_and_files_are_error_rows_without_being_held(tmp_path: Path) -> None:
    limit = 10_000
    huge = json.dumps({"id": "huge", "text": "word " * 50_000})  # 250 kB on one line, over 2 x limit
    big_text = json.dumps({"id": "big", "text": "x" * (limit + 1)})  # a line that fits, a text that does not
    no_newline_tail = good_line(9)  # the last line has no line end
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join([good_line(0), huge, big_text, good_line(1), no_newline_tail]), encoding="utf-8")
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "large.txt").write_bytes(b"A" * (limit + 1))  # refused by its size, before reading
    (reports / "ok.txt").write_text(GOOD, encoding="utf-8")
    tag_batch([str(source), str(reports)], tmp_path / "out", model="linear", max_bytes=limit)
    found = reasons(tmp_path / "out")
    assert any("a line longer than" in r for r in found)
    assert any("over the limit of 10,000" in r for r in found if "big" not in r)
    assert any(r.startswith("large.txt: 10,001 bytes is over the limit") for r in found)
    ids = {r["doc_id"] for r in read_sentences(tmp_path / "out").to_pylist()}
    assert ids == {"good-0", "good-1", "good-9", "ok.txt"}


def test_broken_jsonl_lines(tmp_path: Path) -> None:
    lines = [
        good_line(0).encode(),
        b'{"id": "cut", "text": "The line ends in the mid',
        b"\xff\xfe not utf-8 \x80",
        b"[" * 100_000 + b"]" * 100_000,  # nested past the JSON parser's recursion limit
        b"null",
        b'{"id": null, "text": "No id."}',
        b'{"id": "dict-text", "text": {"a": 1}}',
        b'{"id": "list-title", "text": "Fine text.", "title": ["not", "a", "string"]}',
        b'{"id": "nul", "text": "A NUL \\u0000 inside is kept as text."}',
        b"",
        b"   ",
        good_line(1).encode(),
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\r\n".join(lines) + b"\n")  # CRLF line ends too
    result = tag_batch(str(source), tmp_path / "out", model="linear")
    found = reasons(tmp_path / "out")
    assert result.error_rows == 7, found
    assert sum(r.startswith("not JSON") for r in found) == 3, found  # cut, not UTF-8, nested too deeply
    ids = {r["doc_id"] for r in read_sentences(tmp_path / "out").to_pylist()}
    assert ids == {"good-0", "good-1", "nul"}


def test_wrong_column_types_in_parquet(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": [1, 2], "text": [GOOD, None], "title": [3, None]}), tmp_path / "a.parquet")
    result = tag_batch(str(tmp_path / "a.parquet"), tmp_path / "out", model="linear")
    found = reasons(tmp_path / "out")
    assert result.documents == 0 and len(found) == 2
    assert "the title ('title') is a int, not a string" in found
    assert "the text ('text') is missing" in found
    pq.write_table(pa.table({"id": ["a"], "text": [[1, 2]]}), tmp_path / "b.parquet")
    with pytest.raises(BatchError, match=r"holds list<.*int64>, not strings"):
        tag_batch(str(tmp_path / "b.parquet"), tmp_path / "out2", model="linear")


def _start_job(source: Path, out: Path, *extra: str) -> subprocess.Popen[bytes]:
    code = (
        "import sys; from threatevents.batch import tag_batch; "
        "tag_batch(sys.argv[1], sys.argv[2], model='linear', split_bytes=2000, workers=int(sys.argv[3]), "
        "resume=sys.argv[4] == 'resume')"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    # a session of its own: SIGKILL reaches the driver and its worker processes at once
    return subprocess.Popen(
        [sys.executable, "-c", code, str(source), str(out), *extra], env=env, start_new_session=True
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_mid_job_then_resume_gives_complete_rows_once(tmp_path: Path, workers: int) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(good_line(i) + "\n" for i in range(600)), encoding="utf-8")  # ~50 units
    clean = tmp_path / "clean"
    tag_batch(str(source), clean, model="linear", split_bytes=2000)
    out = tmp_path / "out"
    job = _start_job(source, out, str(workers), "fresh")
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill it once some units are committed, before it finishes
            units = list((out / "_units").glob("*.json")) if (out / "_units").is_dir() else []
            if len(units) >= 3 or job.poll() is not None:
                break
            time.sleep(0.05)
        os.killpg(job.pid, signal.SIGKILL)
    finally:
        job.wait(timeout=30)
    if (out / "_SUCCESS").exists():
        pytest.skip("the job finished before it could be killed (machine too fast for this input)")
    committed = len(list((out / "_units").glob("*.json")))
    assert committed < read_manifest(clean)["units"]
    result = tag_batch(str(source), out, model="linear", split_bytes=2000, resume=True)
    assert result.skipped_units == committed
    rows = read_sentences(out).to_pylist()
    assert rows == read_sentences(clean).to_pylist()
    assert len({(r["doc_id"], r["index"]) for r in rows}) == len(rows)
    # no file outside the manifest is left in the data folders
    listed = {f["path"] for f in result.manifest["files"]}
    on_disk = {p.relative_to(out).as_posix() for p in (out / "sentences").iterdir()}
    assert on_disk == listed
