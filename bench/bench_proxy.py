"""What the logging proxy adds to a request: `python -m bench.bench_proxy [--requests N]`.

The fake OpenAI-compatible upstream of the tests and `evalboard proxy` in front of it run as
two processes of their own (the proxy logging into a SQLite file in a temporary folder); this
process sends the same chat completion to both, alternating, on one keep-alive connection
each, non-streaming and streaming (`stream: true`, read to its end). A request's added latency
is its time through the proxy minus the direct request beside it; p50 and p99 of that, and of
each side, go to stdout and bench/results/proxy.json. Last, the proxy is stopped (SIGTERM) and
the calls it logged are counted in the store: every proxied request must be there.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import create_engine, func, select

from evalboard.store.models import Call

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
BODY = {"model": "fake-model", "max_tokens": 32, "temperature": 0,
        "messages": [{"role": "user", "content": "What is the answer?"}]}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def _timed_post(connection: http.client.HTTPConnection, path: str, body: bytes) -> float:
    """Milliseconds from sending the request to the last byte of the answer."""
    started = time.perf_counter()
    connection.request("POST", path, body=body, headers={
        "Content-Type": "application/json", "Authorization": "Bearer sk-bench"})
    answer = connection.getresponse()
    data = answer.read()
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status != 200 or not data:
        raise RuntimeError(f"{path}: {answer.status} {data[:200]!r}")
    return elapsed


def _measure(upstream: str, proxy: str, requests: int, stream: bool) -> dict[str, float]:
    body = json.dumps({**BODY, "stream": stream}).encode()
    direct_url, proxy_url = urlsplit(upstream), urlsplit(proxy)
    direct = http.client.HTTPConnection(direct_url.hostname, direct_url.port)
    proxied = http.client.HTTPConnection(proxy_url.hostname, proxy_url.port)
    for connection in (direct, proxied):
        connection.connect()
        connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    path = "/v1/chat/completions"
    for _ in range(50):  # warm-up
        _timed_post(direct, path, body), _timed_post(proxied, path, body)
    direct_ms, proxy_ms, added = [], [], []
    for index in range(requests):
        if index % 2:  # alternate which goes first, so neither always runs on a warmer path
            d, p = _timed_post(direct, path, body), _timed_post(proxied, path, body)
        else:
            p, d = _timed_post(proxied, path, body), _timed_post(direct, path, body)
        direct_ms.append(d)
        proxy_ms.append(p)
        added.append(p - d)
    direct.close()
    proxied.close()
    return {
        "requests": requests,
        "direct_p50_ms": statistics.median(direct_ms), "direct_p99_ms": _percentile(direct_ms, .99),
        "proxy_p50_ms": statistics.median(proxy_ms), "proxy_p99_ms": _percentile(proxy_ms, .99),
        "added_p50_ms": statistics.median(added), "added_p99_ms": _percentile(added, .99),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests per mode and side")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-proxy-"))
    db_url = f"sqlite:///{folder / 'proxy.db'}"
    upstream_process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_openai_upstream"], cwd=ROOT,
        stdout=subprocess.PIPE, text=True)
    proxy_process = None
    try:
        upstream = upstream_process.stdout.readline().strip()  # type: ignore[union-attr]
        port = _free_port()
        proxy_process = subprocess.Popen(
            [shutil.which("evalboard") or "evalboard", "proxy", "--upstream", upstream,
             "--model-version", "bench", "--port", str(port), "--db", db_url],
            cwd=folder, stdout=subprocess.PIPE, text=True)
        proxy_process.stdout.readline()  # type: ignore[union-attr] - the banner: listening
        proxy = f"http://127.0.0.1:{port}/v1"
        results = {mode: _measure(upstream, proxy, args.requests, mode == "stream")
                   for mode in ("json", "stream")}
    finally:
        if proxy_process is not None:
            proxy_process.send_signal(signal.SIGTERM)
            proxy_process.wait(60)
        upstream_process.send_signal(signal.SIGINT)
        upstream_process.wait(10)
    engine = create_engine(db_url)
    with engine.connect() as connection:
        logged = connection.scalar(select(func.count()).select_from(Call))
    engine.dispose()
    shutil.rmtree(folder, ignore_errors=True)
    expected = 2 * (args.requests + 50)
    results["logged"] = {"expected": expected, "stored": logged}
    for mode in ("json", "stream"):
        figures = results[mode]
        print(f"proxy {mode:6} {figures['requests']} requests: direct p50 "
              f"{figures['direct_p50_ms']:.2f} ms p99 {figures['direct_p99_ms']:.2f} ms; via "
              f"proxy p50 {figures['proxy_p50_ms']:.2f} ms p99 {figures['proxy_p99_ms']:.2f} ms;"
              f" added p50 {figures['added_p50_ms']:.2f} ms p99 {figures['added_p99_ms']:.2f} ms")
    print(f"calls logged: {logged} of {expected} proxied")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "proxy.json").write_text(json.dumps(results, indent=2))
    return 0 if logged == expected else 1


if __name__ == "__main__":
    sys.exit(main())
