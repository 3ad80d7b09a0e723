"""threatevents.batch and `threatevents tag-batch`: rows equal to tag_many, error rows, resume, the Parquet schema,
object storage (a moto S3 server on 127.0.0.1), and the Ray engine (a local cluster on loopback)."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import pytest

pa = pytest.importorskip("pyarrow", reason="batch tagging needs pyarrow (the batch extra)")
pq = pytest.importorskip("pyarrow.parquet", reason="batch tagging needs pyarrow (the batch extra)")

from typer.testing import CliRunner  # noqa: E402

from threatevents.batch import (  # noqa: E402
    BatchError,
    read_errors,
    read_manifest,
    read_sentences,
    sentence_schema,
    tag_batch,
)
from threatevents.cli import app  # noqa: E402
from threatevents.ingest import ingest_path  # noqa: E402
from threatevents.labels import ALL_LABELS  # noqa: E402
from threatevents.models import load_model, resolve_model_path  # noqa: E402
from threatevents.tagging import tag_documents  # noqa: E402

SENTENCES = [
    "Hackers stole the personal records of {n} customers from the retailer's database.",
    "The company released a patch for the flaw on Tuesday.",
    "Employees received phishing emails that imitated a payroll notice.",
    "Ransomware encrypted the hospital's servers and the attackers demanded {n} bitcoin.",
    "Researchers disclosed a vulnerability in the VPN appliance.",
    "The mayor spoke to reporters about the budget.",
]


def make_docs(n: int) -> list[dict[str, Any]]:
    docs = []
    for i in range(n):
        body = " ".join(SENTENCES[(i + k) % len(SENTENCES)].format(n=1000 + i) for k in range(1 + i % 4))
        docs.append({"id": f"doc-{i}", "text": body, "title": f"Report {i}" if i % 3 == 0 else None})
    return docs


def write_jsonl(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")
    return path


def expected_rows(model: Any, docs: list[dict[str, Any]], scores: bool = False) -> list[dict[str, Any]]:
    """What tag_many gives, in the Parquet row shape."""
    records = model.tag_many(
        [d["text"] for d in docs], titles=[d["title"] for d in docs], names=[d["id"] for d in docs]
    )
    rows = []
    for doc in records:
        for r in doc:
            row = {k: r[k] for k in ("index", "start", "end", "text", "labels")}
            row["doc_id"] = r["document"]
            if scores:
                row.update({f"score_{label}": r["scores"][label] for label in ALL_LABELS})
            rows.append(row)
    return rows


def as_rows(table: Any) -> list[dict[str, Any]]:
    return sorted(table.to_pylist(), key=lambda r: (r["doc_id"], r["index"]))


@pytest.fixture(scope="module")
def linear() -> Any:
    return load_model("linear")


def test_local_engine_gives_the_rows_of_tag_many(tmp_path: Path, linear: Any) -> None:
    docs = make_docs(40)
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    # 1,500-byte parts: the file is cut into several units, run by a pool of 2 processes
    result = tag_batch(str(source), tmp_path / "out", model="linear", workers=2, split_bytes=1500, scores=True)
    assert result.manifest["units"] > 2
    got = as_rows(read_sentences(tmp_path / "out"))
    assert got == sorted(expected_rows(linear, docs, scores=True), key=lambda r: (r["doc_id"], r["index"]))
    assert result.documents == 40 and result.rows == len(got) and result.error_rows == 0


def test_parquet_input_and_report_files_give_the_rows_of_tagging(tmp_path: Path, linear: Any) -> None:
    docs = make_docs(25)
    table = pa.table({"doc": [d["id"] for d in docs], "body": [d["text"] for d in docs]})
    pq.write_table(table, tmp_path / "in.parquet", row_group_size=4)
    out = tmp_path / "out-parquet"
    tag_batch(str(tmp_path / "in.parquet"), out, model="linear", id_column="doc", text_column="body", split_bytes=1)
    assert read_manifest(out)["units"] == 7  # one unit per row group at this split size
    plain = [{**d, "title": None} for d in docs]
    assert as_rows(read_sentences(out)) == sorted(expected_rows(linear, plain), key=lambda r: (r["doc_id"], r["index"]))

    reports = tmp_path / "reports"
    (reports / "sub").mkdir(parents=True)
    (reports / "a.txt").write_text(docs[0]["text"], encoding="utf-8")
    (reports / "sub" / "b.html").write_text(
        f"<html><head><title>Breach</title></head><body><p>{docs[1]['text']}</p></body></html>", encoding="utf-8"
    )
    tag_batch(str(reports), tmp_path / "out-files", model="linear")
    want = []
    for path, name in ((reports / "a.txt", "a.txt"), (reports / "sub" / "b.html", "sub/b.html")):
        for s in tag_documents(linear, [ingest_path(path, name=name)], indicators=False)[0]:
            want.append({"doc_id": name, "index": s.index, "start": s.start, "end": s.end, "text": s.text,
                         "labels": list(s.labels)})  # fmt: skip
    assert as_rows(read_sentences(tmp_path / "out-files")) == sorted(want, key=lambda r: (r["doc_id"], r["index"]))


def test_parquet_schema_and_manifest(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", make_docs(6))
    out = tmp_path / "out"
    tag_batch(str(source), out, model="linear", scores=True)
    manifest = read_manifest(out)
    assert manifest is not None and manifest["complete"] is True
    model_dir = resolve_model_path("linear")
    assert manifest["model_sha256"] == hashlib.sha256((model_dir / "manifest.json").read_bytes()).hexdigest()
    assert manifest["model"] == 'shipped model "linear"' and manifest["threatevents_version"]
    assert manifest["files"], "no sentence files listed"
    total = 0
    for entry in manifest["files"]:
        part = pq.ParquetFile(out / entry["path"])
        assert part.schema_arrow == sentence_schema(scores=True)
        assert part.metadata.num_rows == entry["rows"]
        total += entry["rows"]
    assert total == manifest["rows"]
    schema = sentence_schema(scores=False)
    assert schema.names == ["doc_id", "index", "start", "end", "text", "labels"]
    assert schema.field("labels").type == pa.list_(pa.string())
    # the sentences folder reads as one dataset (the errors and bookkeeping live beside it)
    assert pq.read_table(out / "sentences").num_rows == manifest["rows"]


def test_bad_documents_become_error_rows(tmp_path: Path) -> None:
    good = make_docs(3)
    lines = [json.dumps(d) for d in good[:2]]
    lines += [
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": 1.5, "text": "A float id."}),
        json.dumps({"id": "no-text"}),
        json.dumps({"id": "int-text", "text": 42}),
        json.dumps({"id": "empty", "text": "   "}),
        json.dumps({"id": "big", "text": "x " * 600}),
        json.dumps({"id": 7, "text": "An integer id is fine."}),
        json.dumps(good[2]),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = tag_batch(str(source), tmp_path / "out", model="linear", max_bytes=1000)
    errors = {(r["doc_id"], r["reason"]) for r in read_errors(tmp_path / "out").to_pylist()}
    reasons = sorted(reason for _, reason in errors)
    assert len(errors) == 7 == result.error_rows
    assert any(r.startswith("not JSON") for r in reasons)
    assert any("not a JSON object but list" in r for r in reasons)
    assert (None, "the id ('id') is a float, not a string or integer") in errors
    assert ("no-text", "the text ('text') is missing") in errors
    assert ("int-text", "the text ('text') is a int, not a string") in errors
    assert any(doc == "empty" and "no text" in r for doc, r in errors)
    assert any(doc == "big" and "over the limit of 1,000" in r for doc, r in errors)
    assert {r["doc_id"] for r in read_sentences(tmp_path / "out").to_pylist()} == {"doc-0", "doc-1", "doc-2", "7"}
    assert all(r["source"] == str(source) for r in read_errors(tmp_path / "out").to_pylist())


def test_resume_skips_committed_units_and_redoes_the_rest_without_duplicates(tmp_path: Path) -> None:
    docs = make_docs(30)
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    clean = tmp_path / "clean"
    tag_batch(str(source), clean, model="linear", split_bytes=800)
    out = tmp_path / "out"
    first = tag_batch(str(source), out, model="linear", split_bytes=800)
    # make it look stopped mid-way: no manifest, one unit uncommitted with a half-written part, a stray part
    (out / "_SUCCESS").unlink()
    units = sorted((out / "_units").iterdir())
    record = json.loads(units[1].read_text())
    units[1].unlink()
    part = out / next(iter(record["files"]))
    part.write_bytes(part.read_bytes()[:100])
    (out / "sentences" / "part-stray.parquet").write_bytes(b"PAR1 half")
    with pytest.raises(BatchError, match="--resume or --overwrite"):
        tag_batch(str(source), out, model="linear", split_bytes=800)
    resumed = tag_batch(str(source), out, model="linear", split_bytes=800, resume=True)
    assert resumed.skipped_units == first.manifest["units"] - 1
    assert not (out / "sentences" / "part-stray.parquet").exists()
    got = read_sentences(out).to_pylist()
    assert got == read_sentences(clean).to_pylist()
    assert len({(r["doc_id"], r["index"]) for r in got}) == len(got) == resumed.rows
    # a finished job resumed again does nothing and keeps its rows
    again = tag_batch(str(source), out, model="linear", split_bytes=800, resume=True)
    assert again.skipped_units == again.manifest["units"] and again.rows == resumed.rows
    with pytest.raises(BatchError, match="model_sha256 differs"):
        tag_batch(str(source), out, model="default", split_bytes=800, resume=True)


def test_missing_columns_and_used_outputs_are_clear_errors(tmp_path: Path) -> None:
    pq.write_table(pa.table({"id": ["a"], "body": ["Text."]}), tmp_path / "in.parquet")
    with pytest.raises(BatchError, match=r"no text column 'text' \(columns: id, body\)"):
        tag_batch(str(tmp_path / "in.parquet"), tmp_path / "out", model="linear")
    pq.write_table(pa.table({"id": ["a"], "text": [3]}), tmp_path / "ints.parquet")
    with pytest.raises(BatchError, match="holds int64, not strings"):
        tag_batch(str(tmp_path / "ints.parquet"), tmp_path / "out", model="linear")
    write_jsonl(tmp_path / "in.jsonl", [{"doc": "a", "text": "Text."}])
    with pytest.raises(BatchError, match="no id column 'id'"):
        tag_batch(str(tmp_path / "in.jsonl"), tmp_path / "out", model="linear")
    with pytest.raises(BatchError, match="no such file or folder"):
        tag_batch(str(tmp_path / "missing.jsonl"), tmp_path / "out", model="linear")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(BatchError, match="holds other files"):
        tag_batch(str(tmp_path / "in.jsonl"), tmp_path / "other", model="linear", id_column="doc", overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_globs_folders_and_overwrite(tmp_path: Path, linear: Any) -> None:
    docs = make_docs(9)
    (tmp_path / "data" / "b").mkdir(parents=True)
    write_jsonl(tmp_path / "data" / "one.jsonl", docs[:4])
    write_jsonl(tmp_path / "data" / "b" / "two.jsonl", docs[4:])
    (tmp_path / "data" / ".hidden.jsonl").write_text("junk\n", encoding="utf-8")
    out = tmp_path / "data" / "out"  # inside the input folder: not read back as input
    tag_batch(str(tmp_path / "data"), out, model="linear")
    assert as_rows(read_sentences(out)) == sorted(expected_rows(linear, docs), key=lambda r: (r["doc_id"], r["index"]))
    result = tag_batch(str(tmp_path / "data" / "*.jsonl"), out, model="linear", overwrite=True)
    assert result.documents == 4 and read_errors(out).num_rows == 0  # * stays in one folder
    result = tag_batch(str(tmp_path / "data" / "**" / "*.jsonl"), out, model="linear", overwrite=True)
    assert result.documents == 9  # ** crosses folders; hidden files and the output are still left out


def test_load_model_threads_sets_onnxruntime_intra_op_threads() -> None:
    from threatevents.models.onnx_runtime import default_threads

    one = load_model("default", threads=1)
    assert one._runtime.session.get_session_options().intra_op_num_threads == 1  # type: ignore[attr-defined]
    default = load_model("default")
    assert default._runtime.session.get_session_options().intra_op_num_threads == default_threads()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="at least 1"):
        load_model("linear", threads=0)


def test_default_model_batch_equals_tag_many(tmp_path: Path) -> None:
    docs = make_docs(8)
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    tag_batch(str(source), tmp_path / "out", workers=1, scores=True)
    want = sorted(expected_rows(load_model("default"), docs, scores=True), key=lambda r: (r["doc_id"], r["index"]))
    assert as_rows(read_sentences(tmp_path / "out")) == want


def test_cli_tag_batch(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", make_docs(5))
    runner = CliRunner()
    shown = runner.invoke(app, ["tag-batch", "--help"], env={"COLUMNS": "200"})
    assert "[ray] Cluster to join" in shown.output  # Rich markup must not eat the bracketed prefix
    out = tmp_path / "out"
    result = runner.invoke(app, ["tag-batch", str(source), "--out", str(out), "--model", "linear", "--scores"])
    assert result.exit_code == 0, result.output
    assert "tagged 5 documents" in result.output
    assert "score_O" in pq.read_schema(out / read_manifest(out)["files"][0]["path"]).names
    again = runner.invoke(app, ["tag-batch", str(source), "--out", str(out), "--model", "linear"])
    assert again.exit_code == 2 and "--resume or --overwrite" in again.output and "Traceback" not in again.output
    both = runner.invoke(app, ["tag-batch", str(source), "--out", str(out), "--resume", "--overwrite"])
    assert both.exit_code == 2 and "not both" in both.output
    address = runner.invoke(app, ["tag-batch", str(source), "--out", str(tmp_path / "o3"), "--address", "auto"])
    assert address.exit_code == 2 and "--address is for --engine ray" in address.output
    missing = runner.invoke(app, ["tag-batch", str(source), "--out", str(tmp_path / "o2"), "--text-column", "body"])
    assert missing.exit_code == 2 and "no text column 'body'" in missing.output
    resumed = runner.invoke(
        app, ["tag-batch", str(source), "--out", str(out), "--model", "linear", "--scores", "--resume"]
    )
    assert resumed.exit_code == 0 and "kept from the earlier run" in resumed.output


# -- object storage: a moto S3 server on loopback ------------------------------------------------------------


@pytest.fixture
def s3_endpoint(monkeypatch: pytest.MonkeyPatch) -> Any:
    server_module = pytest.importorskip("moto.server", reason="the S3 test needs moto[server] (the dev extra)")
    boto3 = pytest.importorskip("boto3", reason="the S3 test needs boto3 (with moto)")
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    try:
        client = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
        client.create_bucket(Bucket="reports")
        yield client, f"endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    finally:
        server.stop()


def test_s3_inputs_and_output_through_pyarrow(tmp_path: Path, s3_endpoint: Any, linear: Any) -> None:
    client, query = s3_endpoint
    docs = make_docs(12)
    for name, part in (("in/a.jsonl", docs[:5]), ("in/b.jsonl", docs[5:])):
        client.put_object(Bucket="reports", Key=name, Body="".join(json.dumps(d) + "\n" for d in part).encode())
    out = f"s3://reports/tagged?{query}"
    result = tag_batch(f"s3://reports/in/*.jsonl?{query}", out, model="linear", workers=2)
    assert result.documents == 12
    keys = {o["Key"] for o in client.list_objects_v2(Bucket="reports", Prefix="tagged/")["Contents"]}
    assert "tagged/_SUCCESS" in keys and any(k.startswith("tagged/sentences/part-") for k in keys)
    assert as_rows(read_sentences(out)) == sorted(expected_rows(linear, docs), key=lambda r: (r["doc_id"], r["index"]))
    assert read_manifest(out)["files"][0]["source"].startswith("s3://reports/in/")


# -- the Ray engine ------------------------------------------------------------------------------------------


def _ray_available() -> bool:
    try:
        import ray.data  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.ray
@pytest.mark.skipif(not _ray_available(), reason="Ray Data is not installed (pip install '.[ray]')")
def test_ray_engine_on_a_loopback_cluster_equals_tag_many(tmp_path: Path, linear: Any) -> None:
    import psutil

    docs = make_docs(20)
    source = write_jsonl(tmp_path / "in.jsonl", docs)
    listening: set[tuple[str, str]] = set()

    def watch(_: Any) -> None:  # called while the cluster runs: every socket Ray's processes listen on
        me = psutil.Process()
        pids = {me.pid} | {p.pid for p in me.children(recursive=True)}
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.pid in pids:
                listening.add((conn.laddr.ip, psutil.Process(conn.pid).name()))

    result = tag_batch(str(source), tmp_path / "out", engine="ray", model="linear", workers=2, split_bytes=1200,
                       progress=watch)  # fmt: skip
    assert result.manifest["units"] > 2
    assert as_rows(read_sentences(tmp_path / "out")) == sorted(
        expected_rows(linear, docs), key=lambda r: (r["doc_id"], r["index"])
    )
    names = {name for _, name in listening}
    assert any("gcs_server" in n or "raylet" in n for n in names), f"saw no Ray process listening: {listening}"
    assert {ip for ip, _ in listening} <= {"127.0.0.1", "::1", "::ffff:127.0.0.1"}, listening


@pytest.mark.ray
@pytest.mark.skipif(not _ray_available(), reason="Ray Data is not installed (pip install '.[ray]')")
def test_ray_engine_unreachable_cluster_is_a_clear_error(tmp_path: Path) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", make_docs(2))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with pytest.raises(BatchError, match=f"cannot reach the Ray cluster at 127.0.0.1:{port}"):
        tag_batch(str(source), tmp_path / "out", engine="ray", model="linear", address=f"127.0.0.1:{port}")


def test_ray_actor_cpus_leave_room_on_a_small_cluster() -> None:
    from threatevents.batch import ray_actor_cpus

    # 2 actors at 1 CPU each on a 2-CPU cluster starve Ray Data's own tasks (measured: a silent hang)
    assert ray_actor_cpus(2, 2, 1) * 2 <= 1.5
    assert ray_actor_cpus(2, 1, 1) == 1.0
    assert ray_actor_cpus(64, 16, 2) == 2.0


def test_events_column_holds_the_sentence_events_when_the_model_extracts_them() -> None:
    from threatevents.batch import _sentence_columns, events_type
    from threatevents.events import Argument, Event, Span
    from threatevents.tagging import TaggedSentence

    event = Event(
        "AttackRansom", "Actual", Span(0, 10, "Ransomware"), [Argument("Victim", 25, 33, "hospital", score=0.8)]
    )
    scores = dict.fromkeys(ALL_LABELS, 0.5)
    sentence = TaggedSentence("d", 0, 0, 40, "Ransomware encrypted the hospital files.", ("AttackRansom",), scores,
                              events=(event,))  # fmt: skip
    table = pa.Table.from_pydict(_sentence_columns([[sentence]], False, True), schema=sentence_schema(False, True))
    assert table.schema.field("events").type == events_type()
    (row,) = table.to_pylist()
    assert row["events"][0]["trigger"] == {"start": 0, "end": 10, "text": "Ransomware"}
    assert row["events"][0]["arguments"][0]["role"] == "Victim"
    assert "events" not in sentence_schema(True).names  # models without an extractor: no events column
