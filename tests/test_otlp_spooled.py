"""`--ack spooled`: an export is answered once its calls are queued and fsynced to a spool, so
an answered export survives the receiver being killed (kill -9): the next receiver writes it,
each call once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import select

from evalboard.ingest.otlp_codec import PROTOBUF
from evalboard.ingest.otlp_writer import SpooledWriter, store_writer
from evalboard.store.models import Call
from tests.support.otlp import (
    blocking_writer,
    export,
    export_to,
    make_spans,
    post,
    protobuf_body,
    running_receiver,
    when,
)

LLM = {"attributes": {"openinference.span.kind": "LLM", "input.value": "hi",
                      "output.value": "hello", "llm.model_name": "m"}}

# A receiver whose store never finishes a write: what it answered is only in its spool.
_STUCK_RECEIVER = """
import sys, threading
from pathlib import Path
from evalboard.ingest.otlp_server import OtlpServer
from evalboard.ingest.otlp_writer import SpooledWriter
from evalboard.store import open_store
engine = open_store(sys.argv[1])
never = threading.Event()
def stuck(rows):
    never.wait()
writer = SpooledWriter(engine, stuck, Path(sys.argv[3]) / "dead.jsonl",
                       spool_dir=Path(sys.argv[3]))
server = OtlpServer(writer, "127.0.0.1", int(sys.argv[2]))
print("ready", flush=True)
server.serve_forever()
"""


def _calls(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(select(Call.external_id)))


def _external_ids(spans) -> list[str]:
    return sorted(f"{s.context.trace_id:032x}:{s.context.span_id:016x}" for s in spans)


def _spooled_ids(folder: Path) -> list[str]:
    return sorted(json.loads(line)["external_id"]
                  for path in folder.glob("*.jsonl") for line in path.read_text().splitlines())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_spooled_ack_stores_every_call_once_and_leaves_no_spool(engine, tmp_path):
    spans = make_spans(LLM, LLM, LLM)
    options = {"spool_dir": tmp_path / "spool"}
    with running_receiver(engine, ack="spooled", writer_options=options) as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
        assert export(server, spans) == SpanExportResult.SUCCESS  # a retry
    assert _calls(engine) == _external_ids(spans)
    assert list((tmp_path / "spool").iterdir()) == []  # written, so nothing is kept


def test_an_answered_export_is_on_disk_before_it_is_stored(engine, tmp_path):
    release = threading.Event()
    write = blocking_writer(release, store_writer(engine))
    spans = make_spans(LLM, LLM)
    options = {"spool_dir": tmp_path / "spool"}
    with running_receiver(engine, ack="spooled", write=write,
                          writer_options=options) as server:
        assert post(server, protobuf_body(spans), PROTOBUF)[0] == 200
        assert _calls(engine) == []
        assert _spooled_ids(tmp_path / "spool") == _external_ids(spans)
        release.set()
        assert when(lambda: len(_calls(engine)) == 2)
    assert _calls(engine) == _external_ids(spans)


def test_what_a_killed_receiver_answered_is_stored_by_the_next_one(engine, db_url, tmp_path):
    folder, port = tmp_path / "spool", _free_port()
    receiver = subprocess.Popen([sys.executable, "-c", _STUCK_RECEIVER, db_url, str(port),
                                 str(folder)], stdout=subprocess.PIPE, text=True,
                                cwd=Path(__file__).resolve().parents[1])
    try:
        assert receiver.stdout is not None and receiver.stdout.readline().strip() == "ready"
        spans = make_spans(LLM, LLM, LLM)
        assert export_to(f"http://127.0.0.1:{port}/v1/traces", spans) == SpanExportResult.SUCCESS
    finally:
        os.kill(receiver.pid, signal.SIGKILL)
        receiver.wait(10)
    assert _calls(engine) == []  # answered, never written
    started = time.monotonic()
    writer = SpooledWriter(engine, store_writer(engine), tmp_path / "dead.jsonl",
                           spool_dir=folder)
    writer.close()
    assert writer.replayed == 3 and time.monotonic() - started < 30
    assert _calls(engine) == _external_ids(spans)
    again = SpooledWriter(engine, store_writer(engine), tmp_path / "dead.jsonl", spool_dir=folder)
    again.close()
    assert again.replayed == 0 and _calls(engine) == _external_ids(spans)
    assert list(folder.iterdir()) == []
    assert not (tmp_path / "dead.jsonl").exists()

