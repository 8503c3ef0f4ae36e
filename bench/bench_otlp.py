"""OTLP ingest against the client's own logging: `python -m bench.bench_otlp --db STORE`.

The same calls (bench/fake_calls.py), in the same run, into one copy of the store at --db
(built by bench/bench_store.py; it grows by the calls each way writes): first with the
client's batch mode (`log_call` each, then `flush()`), then as GenAI-semconv LLM spans posted
to the receiver (`evalboard collect`'s server, in this process on 127.0.0.1) as pre-encoded
OTLP/HTTP protobuf requests of `--batch` spans: with `--ack stored` (a request is answered
once its calls are written) one request at a time, as an SDK BatchSpanProcessor sends them,
and from four senders at once, as a Collector's sending queue does; with `--ack queued` one
at a time. Each figure is calls stored per second, from the first call to the last one
written.

Figures go to stdout and bench/results/otlp.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
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
from evalboard.store.models import Call

RESULTS = Path(__file__).resolve().parent / "results" / "otlp.json"
# (name, --ack, senders at once): an SDK BatchSpanProcessor sends one request at a time, a
# Collector's sending queue several.
RUNS = (("stored_1_sender", "stored", 1), ("stored_4_senders", "stored", 4),
        ("queued_1_sender", "queued", 1))


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


def client_rate(url: str, calls: list[FakeCall]) -> float:
    began = time.perf_counter()
    with evalboard.connect(url, mode="batch", handle_signals=False) as client:
        for call in calls:
            client.log_call(call.input, call.output, model_version=call.model_version,
                            latency_ms=call.latency_ms, prompt_tokens=call.prompt_tokens,
                            completion_tokens=call.completion_tokens, metadata=call.metadata,
                            created_at=call.created_at)
        client.flush()
    return len(calls) / (time.perf_counter() - began)


def _post_all(port: int, bodies: list[bytes]) -> None:
    for body in bodies:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/traces", data=body, method="POST",
            headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(request, timeout=120) as response:
            response.read()


def otlp_rate(url: str, bodies: list[bytes], spans: int, ack: str, senders: int) -> float:
    """Spans/s with `senders` exporters posting at once (each its share of the requests),
    until the receiver has written the last call."""
    engine = open_store(url)
    before = store_calls(engine)
    server = OtlpServer(make_writer(engine, ack), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        began = time.perf_counter()
        threads = [threading.Thread(target=_post_all, args=(server.port, bodies[i::senders]))
                   for i in range(senders)]
        for sender in threads:
            sender.start()
        for sender in threads:
            sender.join()
    finally:
        server.close()  # a queued writer writes what is left
        elapsed = time.perf_counter() - began
        thread.join(5)
    stored = store_calls(engine) - before
    engine.dispose()
    if stored != spans:
        raise SystemExit(f"the receiver stored {stored:,} of {spans:,} spans")
    return spans / elapsed


def store_calls(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Call)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="store built by bench_store")
    parser.add_argument("--spans", type=int, default=20_000, help="calls to send each way")
    parser.add_argument("--batch", type=int, default=512, help="spans per OTLP request")
    args = parser.parse_args()
    calls = list(CallFactory(seed=16).calls(args.spans, period_start(), timedelta(days=1)))
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "store.db"
        shutil.copyfile(args.db, copy)
        url = f"sqlite:///{copy}"
        engine = open_store(url)
        size = store_calls(engine)
        engine.dispose()
        client = client_rate(url, calls)
        otlp = {name: otlp_rate(url, encode_requests(calls, args.batch, index * len(calls)),
                                len(calls), ack, senders)
                for index, (name, ack, senders) in enumerate(RUNS, 1)}
    report = {"store_calls": size, "spans": len(calls), "batch": args.batch,
              "client_batch_calls_per_s": round(client),
              **{f"otlp_{name}_spans_per_s": round(rate) for name, rate in otlp.items()},
              **{f"ratio_{name}": round(rate / client, 2) for name, rate in otlp.items()}}
    print(f"store: {args.db} ({size:,} calls); {len(calls):,} calls each way")
    print(f"client batch logging: {client:,.0f} calls/s")
    for name, rate in otlp.items():
        print(f"OTLP/HTTP protobuf, {args.batch} spans a request, {name}: {rate:,.0f} "
              f"spans/s ({rate / client:.2f}x the client)")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
