"""Load test of the REST API (aiohttp client) on a COLD server: POST /v1/tag of a 20-sentence article that
names IP addresses, domains and a CVE (so every request extracts indicators), then an overload burst.

Starts the server (``threatevents.service.server.serve``) in a second process on 127.0.0.1 with a fresh
SQLite store, waits for ``/readyz`` and sends no warm-up request (``--warm-up`` sends some first), then

1. **load**: ``--requests`` (default 1,000) POST /v1/tag at ``--concurrency`` (default 16) from the very first
   request: every one must answer 200 (a cold server used to break for good here: ioc-finder's parser was not
   thread-safe on first use);
2. **overload**: ``--burst`` requests at ``--burst-concurrency`` (default 128) against a server that runs
   ``--slots`` model calls at once with ``--queue`` waiting: the excess must be refused quickly (429/503, each
   with ``Retry-After``) rather than pile up; reports the status counts and the latency of each kind;
3. sends the same burst of GET /healthz, the fastest answer the server can give at that concurrency
   (a baseline for the 503 latency), then checks that the server is healthy afterwards (``/healthz`` and
   ``/readyz`` 200, POST /v1/tag 200 with the article's indicators found), and stops the server.

Bounded in requests and in time (``--time-limit`` seconds overall); stops the server whatever happens.

    python benchmarks/bench_service_load.py                # shipped linear model
    python benchmarks/bench_service_load.py --requests 200 # quick run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

ARTICLE = " ".join(
    [
        "Northwind Logistics said on Monday that attackers had broken into its customer portal last month.",
        "The intruders stole names, home addresses and partial card numbers of about 48,000 customers.",
        "The company learned of the intrusion when a security researcher found the data for sale on a forum.",
        "Investigators believe the attackers first sent phishing emails that imitated a parcel-tracking notice.",
        "Several warehouse employees entered their passwords on the fake login page at track-parcel.net.",
        "With those credentials the group moved to an internal file server.",
        "Two days later ransomware encrypted the file server and several shipping terminals.",
        "A note left on the machines demanded 30 bitcoin for the decryption key.",
        "Northwind said it did not pay the ransom and restored the systems from offline backups.",
        "Deliveries in three regions were delayed for nearly a week.",
        "The attackers got in through a flaw in the portal's file-upload component, tracked as CVE-2024-31337.",
        "The intruders sent the stolen files to 185.220.101.4 and to a server at evil-parcels.com.",
        "The vendor of the component had disclosed the vulnerability in March.",
        "A patch that fixes the flaw was released two weeks later.",
        "Northwind admitted it had not yet installed the update when the attack began.",
        "The company has since applied the patch and reset the passwords of all employees.",
        "It is also notifying affected customers by post and offering credit monitoring.",
        "The regional data protection authority said it had opened an inquiry.",
        "Shares of Northwind fell four percent in early trading.",
        "The company plans to hire an outside firm to review its security practices.",
    ]
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, model: str, db_url: str, slots: int, queue: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "THREATEVENTS_MAX_CONCURRENCY": str(slots),
        "THREATEVENTS_MAX_QUEUE": str(queue),
        "HF_HUB_OFFLINE": "1",
    }
    env.pop("THREATEVENTS_TOKEN", None)
    code = (
        "from threatevents.service.server import serve; "
        f"serve('127.0.0.1', {port}, db_url={db_url!r}, model_dir={model!r}, log_level='warning')"
    )
    return subprocess.Popen([sys.executable, "-c", code], env=env)


async def wait_ready(base: str, server: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession(base) as client:
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"the server exited with code {server.returncode}")
            try:
                async with client.get("/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the server was not ready within {timeout:g} s")


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    if len(values) == 1:
        return {"p50": values[0] * 1000, "p95": values[0] * 1000, "p99": values[0] * 1000, "max": values[0] * 1000}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": cuts[49] * 1000, "p95": cuts[94] * 1000, "p99": cuts[98] * 1000, "max": max(values) * 1000}


EXPECTED_INDICATORS = {("ipv4", "185.220.101.4"), ("domain", "evil-parcels.com"), ("cve", "CVE-2024-31337")}
Result = tuple[int, float, bool]  # status, latency in seconds, whether a Retry-After header came with it


async def fire(base: str, n: int, concurrency: int, *, health: bool = False) -> tuple[float, list[Result]]:
    """Send ``n`` POST /v1/tag (or GET /healthz) from ``concurrency`` workers; (wall seconds, results)."""
    results: list[Result] = []
    errors: Counter[str] = Counter()
    remaining = iter(range(n))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(base, connector=connector, timeout=timeout) as client:

        async def worker() -> None:
            for _ in remaining:
                start = time.perf_counter()
                try:
                    request = client.get("/healthz") if health else client.post("/v1/tag", json={"text": ARTICLE})
                    async with request as response:
                        await response.read()
                        status, retry_after = response.status, "Retry-After" in response.headers
                except (aiohttp.ClientError, TimeoutError) as exc:
                    status, retry_after = 0, False  # connection error
                    errors[type(exc).__name__] += 1
                results.append((status, time.perf_counter() - start, retry_after))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        if errors:
            print(f"   connection errors: {dict(errors)}")
        return time.perf_counter() - start, results


def summarise(name: str, wall: float, results: list[Result]) -> dict[str, object]:
    by_status: dict[int, list[float]] = {}
    for status, latency, _ in results:
        by_status.setdefault(status, []).append(latency)
    refused = [r for r in results if r[0] in (429, 503)]
    summary: dict[str, object] = {
        "run": name,
        "requests": len(results),
        "seconds": round(wall, 2),
        "requests_per_s": round(len(results) / wall, 1),
        "status": {str(k): len(v) for k, v in sorted(by_status.items())},
        "refused_without_retry_after": sum(1 for r in refused if not r[2]),
        "latency_ms": {
            str(k): {q: round(x, 1) for q, x in percentiles(sorted(v)).items()} for k, v in sorted(by_status.items())
        },
    }
    print(f"\n== {name}: {len(results)} requests in {wall:.1f} s = {len(results) / wall:.1f} req/s")
    for status, latencies in sorted(by_status.items()):
        p = percentiles(sorted(latencies))
        print(
            f"   {status or 'conn-error'}: {len(latencies):5d}  latency ms p50 {p['p50']:.1f}  p95 {p['p95']:.1f}  "
            f"p99 {p['p99']:.1f}  max {p['max']:.1f}"
        )
    return summary


async def run(args: argparse.Namespace) -> dict[str, object]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(port, args.model, f"sqlite:///{Path(tmp) / 'bench.sqlite3'}", args.slots, args.queue)
        try:
            await wait_ready(base, server, 120)
            if args.warm_up:
                await fire(base, 2 * args.concurrency, args.concurrency)
            load = summarise("load (cold server)", *await fire(base, args.requests, args.concurrency))
            burst = summarise("overload", *await fire(base, args.burst, args.burst_concurrency))
            baseline = summarise(
                "GET /healthz at the overload concurrency (baseline)",
                *await fire(base, args.burst, args.burst_concurrency, health=True),
            )
            async with aiohttp.ClientSession(base) as client:
                start = time.perf_counter()
                async with client.get("/healthz") as response:
                    health = response.status
                health_ms = (time.perf_counter() - start) * 1000
                async with client.get("/readyz") as response:
                    ready = response.status
                async with client.post("/v1/tag", json={"text": ARTICLE}) as response:
                    after = response.status
                    sentences = (await response.json())["sentences"] if after == 200 else []
            found = {(i["type"], i["value"]) for s in sentences for i in s["indicators"]}
            print(
                f"\nafter the burst: /healthz {health} in {health_ms:.1f} ms; /readyz {ready}; POST /v1/tag {after}; "
                f"indicators found: {sorted(found)}"
            )
            events = Counter(x for s in sentences for x in s["labels"] if x != "O")
            print(f"article: {len(sentences)} sentences; events: {dict(events)}")
            return {
                "model": args.model,
                "cold": not args.warm_up,
                "sentences": len(sentences),
                "concurrency": args.concurrency,
                "slots": args.slots,
                "queue": args.queue,
                "load": load,
                "healthz_baseline": baseline,
                "overload": burst,
                "healthz_after": health,
                "readyz_after": ready,
                "tag_after": after,
                "indicators_after": found >= EXPECTED_INDICATORS,
            }
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="linear", help="model directory or shipped name")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--burst-concurrency", type=int, default=128)
    parser.add_argument("--warm-up", action="store_true", help="send 2 x concurrency requests before measuring")
    parser.add_argument("--slots", type=int, default=2, help="model calls at once (THREATEVENTS_MAX_CONCURRENCY)")
    parser.add_argument("--queue", type=int, default=16, help="calls waiting (THREATEVENTS_MAX_QUEUE)")
    parser.add_argument("--time-limit", type=float, default=600)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    result = asyncio.run(asyncio.wait_for(run(args), args.time_limit))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    load_ok = result["load"]["status"] == {"200": args.requests}  # type: ignore[index]
    burst_status = result["overload"]["status"]  # type: ignore[index]
    overload_ok = (
        set(burst_status) <= {"200", "429", "503"}
        and bool({"429", "503"} & set(burst_status))
        and result["overload"]["refused_without_retry_after"] == 0  # type: ignore[index]
    )
    healthy = result["healthz_after"] == 200 and result["readyz_after"] == 200 and result["tag_after"] == 200
    ok = load_ok and overload_ok and healthy and bool(result["indicators_after"])
    print(
        "\nOK"
        if ok
        else "\nFAILED: errors under load, no 429/503 with Retry-After under overload, or unhealthy afterwards"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
