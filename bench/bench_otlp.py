"""OTLP ingest against the client's own logging: `python -m bench.bench_otlp [--db STORE]`.

Into one copy of the store at --db (default bench/bench.db, the 1M-call store bench_store
builds; the copy is migrated without a backup and deleted afterwards), in the same run and in
rounds so both sides see the same machine: the same calls (bench/fake_calls.py) through the
client's batch mode (`log_call` each, then `flush()`), then as GenAI-semconv LLM spans (chat
messages JSON, token counts, four metadata attributes) in pre-encoded OTLP/HTTP protobuf
requests of `--batch` spans, posted to the receiver (`evalboard collect`'s server, in this
process on 127.0.0.1): with `--ack stored` (a request is answered once its calls are written)
one request at a time, as an SDK BatchSpanProcessor sends them, and from four senders at once,
as a Collector's sending queue does; with `--ack queued` and `--ack spooled` (answered once
queued and fsynced to a spool) one at a time. Each rate is calls stored per second, from the
first call to the last one written (every call is counted in the store); CPU is this process's
CPU time per call (steadier than wall time on a shared machine).

Figures go to stdout and bench/results/otlp.json; ~2 minutes on the 1M-call store.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from sqlalchemy import Engine, func, select

import evalboard
from bench.fake_calls import CallFactory, FakeCall, period_start
from evalboard.ingest.otlp_server import OtlpServer
from evalboard.ingest.otlp_writer import make_writer
from evalboard.store import open_store
from evalboard.store.engine import make_engine
from evalboard.store.migrate import upgrade
from evalboard.store.models import Call

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "otlp.json"
TARGET_RATE, TARGET_RATIO = 2000, 0.8
# (name, --ack, senders at once): an SDK BatchSpanProcessor sends one request at a time, a
# Collector's sending queue several.
RUNS = (("stored_1_sender", "stored", 1), ("stored_4_senders", "stored", 4),
        ("queued_1_sender", "queued", 1), ("spooled_1_sender", "spooled", 1))
JUDGED = (("stored_1_sender", "--ack stored, 1 sender"),
          ("spooled_1_sender", "--ack spooled, 1 sender"))


def _kv(key: str, value: Any) -> KeyValue:
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=str(value)))


def _messages(call: FakeCall) -> str:
    turns = call.input if isinstance(call.input, list) else [{"role": "user",
                                                              "content": call.input}]
    return json.dumps([{"role": t["role"], "parts": [{"type": "text", "content": t["content"]}]}
                       for t in turns])


def encode_requests(calls: list[FakeCall], batch: int, first_id: int) -> list[bytes]:
    """Protobuf ExportTraceServiceRequest bodies of `batch` LLM spans each, the spans'
    trace and span ids counting from `first_id` (another run's spans are new spans)."""
    bodies = []
    for start in range(0, len(calls), batch):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_kv("service.name", "bench"))
        spans = resource_spans.scope_spans.add().spans
        for serial, call in enumerate(calls[start:start + batch], first_id + start):
            span = spans.add()
            span.trace_id = serial.to_bytes(16, "big")
            span.span_id = (serial + 1).to_bytes(8, "big")
            span.name = f"chat {call.model_version}"
            began = int(call.created_at.timestamp() * 1e9)
            span.start_time_unix_nano = began
            span.end_time_unix_nano = began + int(call.latency_ms * 1e6)
            span.attributes.extend([
                _kv("gen_ai.operation.name", "chat"),
                _kv("gen_ai.request.model", call.model_version),
                _kv("gen_ai.usage.input_tokens", call.prompt_tokens),
                _kv("gen_ai.usage.output_tokens", call.completion_tokens),
                _kv("gen_ai.input.messages", _messages(call)),
                _kv("gen_ai.output.messages", json.dumps([
                    {"role": "assistant", "parts": [{"type": "text", "content": call.output}]}])),
                *(_kv(f"app.{key}", value) for key, value in call.metadata.items()),
            ])
        bodies.append(request.SerializeToString())
    return bodies


class Measured:
    """Calls per second (wall) and CPU microseconds per call of one timed block."""

    def __init__(self, calls: int) -> None:
        self.calls = calls
        self.rate = self.cpu_us = 0.0

    def __enter__(self) -> Measured:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.rate = self.calls / (time.perf_counter() - self._wall)
        self.cpu_us = 1e6 * (time.process_time() - self._cpu) / self.calls


def client_rate(url: str, calls: list[FakeCall]) -> Measured:
    engine = open_store(url)
    before = store_calls(engine)
    with Measured(len(calls)) as measured, evalboard.connect(url, mode="batch",
                                                             handle_signals=False) as client:
        for call in calls:
            client.log_call(call.input, call.output, model_version=call.model_version,
                            latency_ms=call.latency_ms, prompt_tokens=call.prompt_tokens,
                            completion_tokens=call.completion_tokens, metadata=call.metadata,
                            created_at=call.created_at)
        client.flush()
    check_stored(engine, before, len(calls), "the client")
    return measured


def _post_all(port: int, bodies: list[bytes]) -> None:
    for body in bodies:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", data=body, method="POST",
            headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()


def otlp_rate(url: str, bodies: list[bytes], spans: int, ack: str, senders: int) -> Measured:
    """Spans/s with `senders` exporters posting at once (each its share of the requests),
    until the receiver has written the last call."""
    engine = open_store(url)
    before = store_calls(engine)
    server = OtlpServer(make_writer(engine, ack), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with Measured(spans) as measured:
        try:
            threads = [threading.Thread(target=_post_all, args=(server.port, bodies[i::senders]))
                       for i in range(senders)]
            for sender in threads:
                sender.start()
            for sender in threads:
                sender.join()
        finally:
            server.close()  # a queued writer writes what is left
    thread.join(5)
    check_stored(engine, before, spans, "the receiver")
    return measured


def check_stored(engine: Engine, before: int, expected: int, who: str) -> None:
    stored = store_calls(engine) - before
    engine.dispose()
    if stored != expected:
        raise SystemExit(f"{who} stored {stored:,} of {expected:,} calls")


def store_calls(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Call)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", type=Path, default=HERE / "bench.db",
                        help="store built by bench_store (default: bench/bench.db)")
    parser.add_argument("--spans", type=int, default=10_000, help="calls each way, per round")
    parser.add_argument("--batch", type=int, default=512, help="spans per OTLP request")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    if not args.db.exists():
        raise SystemExit(f"no store at {args.db}: build one with "
                         "`python -m bench.bench_store --build-only --db PATH`")
    load_before = os.getloadavg()[0]
    names = ["client_batch", *(name for name, _, _ in RUNS)]
    results: dict[str, list[Measured]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "store.db"
        shutil.copyfile(args.db, copy)
        url = f"sqlite:///{copy}"
        upgrade(make_engine(url), backup=False)  # a copy: no backup needed
        engine = open_store(url)
        size = store_calls(engine)
        engine.dispose()
        serial = 0
        for round_ in range(args.rounds):
            calls = list(CallFactory(seed=16 + round_).calls(args.spans, period_start(),
                                                             timedelta(days=1)))
            results["client_batch"].append(client_rate(url, calls))
            for name, ack, senders in RUNS:
                serial += 1
                bodies = encode_requests(calls, args.batch, serial * 10 * args.spans)
                results[name].append(otlp_rate(url, bodies, len(calls), ack, senders))
    load = (load_before + os.getloadavg()[0]) / 2

    def ratios(name: str) -> list[float]:  # to the client, round by round
        return [m.rate / c.rate for m, c in zip(results[name], results["client_batch"],
                                                strict=True)]

    report: dict[str, object] = {"store_calls": size, "spans_per_round": args.spans,
                                 "rounds": args.rounds, "batch": args.batch,
                                 "load_average": round(load, 1)}
    print(f"store: {args.db} ({size:,} calls); {args.rounds} rounds of {args.spans:,} calls "
          f"each way; load average {load:.1f} on {os.cpu_count()} cores")
    print(f"{'':34} {'calls/s, each round':>22} {'CPU us/call':>12} {'x client':>14}")
    for name in names:
        rates = [m.rate for m in results[name]]
        cpu = statistics.median(m.cpu_us for m in results[name])
        shown = "" if name == "client_batch" else ", ".join(f"{r:.2f}" for r in ratios(name))
        print(f"{name:34} {', '.join(f'{r:,.0f}' for r in rates):>22} {cpu:>12,.0f} "
              f"{shown:>14}")
        report[f"{name}_per_s"] = [round(r) for r in rates]
        report[f"{name}_cpu_us"] = round(cpu)
        if name != "client_batch":
            report[f"ratio_{name}"] = [round(r, 2) for r in ratios(name)]
    for name, shown in JUDGED:
        best = statistics.median(m.rate for m in results[name])
        ratio = statistics.median(ratios(name))
        print(f"{shown} (median): {best:,.0f} spans/s (target >= {TARGET_RATE:,}: "
              f"{'ok' if best >= TARGET_RATE else 'MISS'}), {ratio:.2f}x the client (target "
              f">= {TARGET_RATIO}x: {'ok' if ratio >= TARGET_RATIO else 'MISS'})")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
