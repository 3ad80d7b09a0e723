"""An event edit acknowledged with a 2xx is never lost when the server is killed (SIGKILL, no shutdown).

A real server (``threatevents.service.server.serve``: uvicorn, the shipped linear model, one SQLite file) runs
on 127.0.0.1 in a child process; a client makes event edits one after another and records what each
acknowledged answer says; the server is killed with SIGKILL at a random moment of the edits, restarted on the
same file, and every acknowledged fact must be there. Twenty kill cycles.

Each fact is written by one edit and never overwritten by a later one (an added event's type and trigger, its
realis, an added argument and its span, its deletion), so "acknowledged" means "must be stored", whatever the
unacknowledged edit in flight at the kill did; an argument's role is the acknowledged one or the one of a role
change in flight. The event's reviewer is the number of its latest edit, which may only be ahead of the latest
acknowledged one (the edit in flight may have been committed).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason="needs httpx (dev extra)")
pytest.importorskip("uvicorn", reason="the service needs the 'serve' extra")

from .conftest import ARTICLE  # noqa: E402

SRC = Path(__file__).resolve().parents[2] / "src"
CYCLES = int(os.environ.get("THREATEVENTS_KILL_CYCLES", "20"))
WORDS = ["Hackers", "stole", "records", "customers", "attackers", "phishing", "emails", "released", "patch", "Shares"]
ROLES = ["Victim", "Attacker", "Time", "Place"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(db_url: str, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    code = (
        "from threatevents.service.server import serve; "
        f"serve('127.0.0.1', {port}, db_url={db_url!r}, model_dir='linear', log_level='warning')"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREATEVENTS_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    with log.open("ab") as sink:
        server = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=sink, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            raise AssertionError(f"the server exited: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            server.kill()
            raise AssertionError("the server was not ready within 120 s")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        time.sleep(0.1)


@dataclass
class Acked:
    """What acknowledged answers said, by event id."""

    events: dict[int, dict[str, Any]] = field(default_factory=dict)  # type, trigger, realis (once set)
    arguments: dict[int, dict[str, Any]] = field(default_factory=dict)  # event, role, start, end, deleted
    last_edit: dict[int, int] = field(default_factory=dict)  # event id -> number of its latest acked edit
    count: int = 0


def _edit_until_killed(
    base: str, doc_id: int, text: str, acked: Acked, counter: list[int], stop: threading.Event
) -> None:
    """Make edits one after another until the server stops answering; record every 2xx answer."""
    url = f"{base}/v1/documents/{doc_id}/events"
    rng = random.Random(counter[0])
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            try:
                word = rng.choice(WORDS)
                start = text.index(word)
                n = counter[0] = counter[0] + 1
                body = {
                    "type": "AttackRansom",
                    "trigger": {"start": start, "end": start + len(word)},
                    "reviewer": f"{n}",
                }
                answer = client.post(url, json=body)
                assert answer.status_code == 201, answer.text
                event = answer.json()
                acked.events[event["id"]] = {"type": "AttackRansom", "trigger": [start, start + len(word)]}
                acked.last_edit[event["id"]] = n
                acked.count += 1

                n = counter[0] = counter[0] + 1
                realis = rng.choice(["Generic", "Other"])
                answer = client.patch(f"{url}/{event['id']}", json={"realis": realis, "reviewer": f"{n}"})
                assert answer.status_code == 200, answer.text
                acked.events[event["id"]]["realis"] = realis
                acked.last_edit[event["id"]] = n
                acked.count += 1

                n = counter[0] = counter[0] + 1
                word = rng.choice(WORDS)
                start = text.index(word)
                body = {"role": "Victim", "start": start, "end": start + len(word), "reviewer": f"{n}"}
                answer = client.post(f"{url}/{event['id']}/arguments", json=body)
                assert answer.status_code == 201, answer.text
                argument = answer.json()["arguments"][-1]
                acked.arguments[argument["id"]] = {
                    "event": event["id"],
                    "roles": {"Victim"},
                    "span": [start, start + len(word)],
                }
                acked.last_edit[event["id"]] = n
                acked.count += 1

                n = counter[0] = counter[0] + 1
                role = rng.choice(ROLES[1:])
                acked.arguments[argument["id"]]["roles"].add(role)  # in flight: either role may be stored
                url_argument = f"{url}/{event['id']}/arguments/{argument['id']}"
                answer = client.patch(url_argument, json={"role": role, "reviewer": f"{n}"})
                assert answer.status_code == 200, answer.text
                acked.arguments[argument["id"]]["roles"] = {role}
                acked.last_edit[event["id"]] = n
                acked.count += 1

                n = counter[0] = counter[0] + 1
                answer = client.delete(f"{url}/{event['id']}/arguments/{argument['id']}", params={"reviewer": f"{n}"})
                assert answer.status_code == 200, answer.text
                acked.arguments[argument["id"]]["deleted"] = True
                acked.last_edit[event["id"]] = n
                acked.count += 1
            except httpx.TransportError:
                return  # the server is gone: the edit in flight was not acknowledged


def _check(base: str, doc_id: int, acked: Acked) -> None:
    events = {e["id"]: e for e in httpx.get(f"{base}/v1/documents/{doc_id}", timeout=30).json()["events"]}
    for event_id, facts in acked.events.items():
        assert event_id in events, f"acknowledged event {event_id} lost"
        stored = events[event_id]
        assert (
            stored["type"] == facts["type"]
            and [stored["trigger"]["start"], stored["trigger"]["end"]] == facts["trigger"]
        )
        if "realis" in facts:
            assert stored["realis"] == facts["realis"], f"event {event_id}: acknowledged realis lost"
        assert int(stored["reviewer"]) >= acked.last_edit[event_id], f"event {event_id}: an acknowledged edit lost"
    arguments = {a["id"]: a for e in events.values() for a in e["arguments"]}
    for argument_id, facts in acked.arguments.items():
        assert argument_id in arguments, f"acknowledged argument {argument_id} lost"
        stored = arguments[argument_id]
        assert stored["role"] in facts["roles"] and [stored["start"], stored["end"]] == facts["span"]
        if facts.get("deleted"):
            assert stored["state"] == "deleted", f"argument {argument_id}: acknowledged deletion lost"


@pytest.mark.slow
def test_acknowledged_event_edits_survive_sigkill(tmp_path: Path) -> None:
    db_url = f"sqlite:///{tmp_path / 'kill.sqlite3'}"
    log = tmp_path / "server.log"
    rng = random.Random(13)
    acked, counter = Acked(), [0]
    server, base = _start(db_url, log)
    try:
        created = httpx.post(f"{base}/v1/documents", json={"text": ARTICLE}, timeout=60)
        assert created.status_code == 201, created.text
        doc_id, text = created.json()["id"], created.json()["text"]
        for cycle in range(CYCLES):
            stop = threading.Event()
            editor = threading.Thread(target=_edit_until_killed, args=(base, doc_id, text, acked, counter, stop))
            before = acked.count
            editor.start()
            time.sleep(rng.uniform(0.05, 0.8))
            os.kill(server.pid, signal.SIGKILL)  # no shutdown, no flush: only what was committed survives
            server.wait(10)
            stop.set()
            editor.join(30)
            assert not editor.is_alive()
            server, base = _start(db_url, log)
            _check(base, doc_id, acked)
            assert cycle > 0 or acked.count > before, "no edit was acknowledged before the first kill"
        assert acked.count >= CYCLES  # the kills fell among real edits
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(10)
