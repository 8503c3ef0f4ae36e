"""The OTLP/HTTP receiver's protocol: content types, gzip, retries, bad bodies, partial success
and back-pressure."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult
from sqlalchemy import func, select

from evalboard.ingest.otlp_writer import store_writer
from evalboard.store.models import Call
from tests.support.otlp import (
    blocking_writer,
    export,
    json_body,
    make_spans,
    post,
    protobuf_body,
    running_receiver,
    when,
)

PROTOBUF, JSON = "application/x-protobuf", "application/json"
LLM = {"attributes": {"openinference.span.kind": "LLM", "input.value": "hi",
                      "output.value": "hello", "llm.model_name": "m"}}


def call_count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(Call))


def external_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(Call.external_id)))


def test_sdk_exporter_with_gzip_stores_each_span_once_under_trace_and_span_id(engine):
    spans = make_spans(LLM, LLM)
    with running_receiver(engine) as server:
        assert export(server, spans, gzip_body=True) == SpanExportResult.SUCCESS
        assert export(server, spans) == SpanExportResult.SUCCESS  # an exporter's retry
        assert server.totals["stored"] == 2 and server.totals["already_stored"] == 2
    expected = {f"{s.context.trace_id:032x}:{s.context.span_id:016x}" for s in spans}
    assert external_ids(engine) == expected


@pytest.mark.parametrize("gzip_body", [False, True])
def test_json_request_gets_a_json_answer(engine, gzip_body):
    with running_receiver(engine) as server:
        status, headers, body = post(server, json_body(make_spans(LLM)), JSON,
                                     gzip_body=gzip_body)
    assert status == 200
    assert headers["Content-Type"] == JSON
    json_format.Parse(body, ExportTraceServiceResponse())
    assert call_count(engine) == 1


def test_protobuf_request_gets_a_protobuf_answer(engine):
    with running_receiver(engine) as server:
        status, headers, body = post(server, protobuf_body(make_spans(LLM)), PROTOBUF)
    assert (status, headers["Content-Type"]) == (200, PROTOBUF)
    response = ExportTraceServiceResponse.FromString(body)
    assert not response.HasField("partial_success")
    assert call_count(engine) == 1


def test_json_and_protobuf_forms_of_one_span_are_the_same_call(engine):
    spans = make_spans(LLM)
    with running_receiver(engine) as server:
        assert post(server, json_body(spans), JSON)[0] == 200
        assert post(server, protobuf_body(spans), PROTOBUF)[0] == 200
    assert call_count(engine) == 1


@pytest.mark.parametrize(("body", "content_type", "encoding"), [
    (b"\xff\x00garbage", PROTOBUF, None),
    (b"{not json", JSON, None),
    (b"[1, 2]", JSON, None),
    (json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "zz", "spanId": "00"}]}]}]}).encode(), JSON, None),
    (json.dumps({"resourceSpans": "nope"}).encode(), JSON, None),
    (b"claims gzip, is not", JSON, "gzip"),
    (b"{}", JSON, "br"),
])
def test_malformed_body_is_a_clear_400_and_stores_nothing(engine, body, content_type,
                                                          encoding):
    with running_receiver(engine) as server:
        status, headers, answer = post(server, body, content_type, content_encoding=encoding)
        assert post(server, json_body(make_spans(LLM)), JSON)[0] == 200  # still serving
    assert status == 400
    assert headers["Content-Type"] == content_type
    message = (json.loads(answer)["message"] if content_type == JSON
               else status_pb2.Status.FromString(answer).message)
    assert message and "\n" not in message
    assert call_count(engine) == 1


def test_wrong_content_type_and_path(engine):
    with running_receiver(engine) as server:
        assert post(server, b"{}", "text/plain")[0] == 415
        assert post(server, b"{}", JSON, path="/v1/logs")[0] == 404
    assert call_count(engine) == 0


def test_a_chunked_body_is_read_and_stored(engine):
    with running_receiver(engine) as server:
        chunks = iter([json_body(make_spans(LLM))])  # an iterable body is sent chunked
        request = urllib.request.Request(
            f"http://127.0.0.1:{server.port}/v1/traces", data=chunks, method="POST",
            headers={"Content-Type": JSON, "Transfer-Encoding": "chunked"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200 and answer.headers["Content-Type"] == JSON
    assert call_count(engine) == 1


def raw_exchange(server, head: bytes, body: bytes = b"") -> bytes:
    """Send one hand-framed request; the status line of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as connection:
        connection.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\n" + head + b"\r\n" + body)
        connection.shutdown(socket.SHUT_WR)
        return connection.makefile("rb").readline()


@pytest.mark.parametrize(("head", "body", "status"), [
    (b"", b"", b" 411 "),  # neither Content-Length nor chunked
    (b"Content-Length: lots\r\n", b"{}", b" 400 "),
    (b"Transfer-Encoding: chunked\r\n", b"zz\r\n{}\r\n0\r\n\r\n", b" 400 "),
    (b"Transfer-Encoding: chunked\r\n", b"ff\r\n{}", b" 400 "),  # cut short
    (b"Transfer-Encoding: chunked\r\n", b"%x\r\n" % (65 * 2**20), b" 413 "),
    (b"Content-Length: %d\r\n" % (65 * 2**20), b"", b" 413 "),
])
def test_a_body_without_usable_framing_is_refused_and_stores_nothing(engine, head, body,
                                                                     status):
    with running_receiver(engine) as server:
        assert status in raw_exchange(server, head, body)
        assert post(server, json_body(make_spans(LLM)), JSON)[0] == 200  # still serving
    assert call_count(engine) == 1


def test_partial_success_names_the_rejected_spans_and_stores_the_rest(engine):
    no_input = {"attributes": {"openinference.span.kind": "LLM", "output.value": "orphan"}}
    bad_tokens = {"attributes": {**LLM["attributes"], "llm.token_count.prompt": -3}}
    with running_receiver(engine) as server:
        status, _, body = post(server, protobuf_body(make_spans(LLM, no_input, bad_tokens)),
                               PROTOBUF)
        json_status, json_headers, json_answer = post(
            server, json_body(make_spans(no_input)), JSON)
    assert status == 200
    partial = ExportTraceServiceResponse.FromString(body).partial_success
    assert partial.rejected_spans == 2
    assert "input" in partial.error_message and "prompt_tokens" in partial.error_message
    assert json.loads(json_answer)["partialSuccess"]["rejectedSpans"] in ("1", 1)
    assert (json_status, json_headers["Content-Type"]) == (200, JSON)
    assert call_count(engine) == 1


def test_a_writer_that_falls_behind_gets_503_with_retry_after_and_loses_nothing(engine):
    release, entered = threading.Event(), threading.Event()
    answers: list[int] = []
    write = blocking_writer(release, store_writer(engine), entered)
    bodies = [protobuf_body(make_spans(LLM)) for _ in range(3)]
    with running_receiver(engine, write=write, writer_options={"max_queued": 1}) as server:
        def send(body: bytes) -> None:
            answers.append(post(server, body, PROTOBUF)[0])

        first = threading.Thread(target=send, args=(bodies[0],))
        first.start()
        assert entered.wait(10)  # its calls are being written
        second = threading.Thread(target=send, args=(bodies[1],))
        second.start()
        assert when(lambda: server.writer.queued() == 1)  # waiting in the full queue
        status, headers, body = post(server, bodies[2], PROTOBUF)
        assert status == 503
        assert int(headers["Retry-After"]) > 0
        assert headers["Content-Type"] == PROTOBUF
        release.set()
        first.join(30)
        second.join(30)
        assert answers == [200, 200]
        assert post(server, bodies[2], PROTOBUF)[0] == 200  # the exporter's retry
    assert call_count(engine) == 3


def test_the_queue_is_bounded_by_calls_not_only_by_requests(engine):
    release, entered = threading.Event(), threading.Event()
    write = blocking_writer(release, store_writer(engine), entered)
    three, two = (protobuf_body(make_spans(*[LLM] * n)) for n in (3, 2))
    options = {"max_queued": 64, "max_queued_rows": 4}
    answers: list[int] = []
    with running_receiver(engine, write=write, writer_options=options) as server:
        def send(body: bytes) -> None:
            answers.append(post(server, body, PROTOBUF)[0])

        first = threading.Thread(target=send, args=(two,))
        first.start()
        assert entered.wait(10)  # being written: no longer queued
        waiting = threading.Thread(target=send, args=(three,))  # 3 queued calls of 4
        waiting.start()
        assert when(lambda: server.writer.queued() == 1)
        assert post(server, two, PROTOBUF)[0] == 503  # 3 + 2 > 4, though 1 request of 64
        release.set()
        first.join(30)
        waiting.join(30)
        assert answers == [200, 200]
        assert post(server, two, PROTOBUF)[0] == 200  # the retry: stored already
    assert call_count(engine) == 5


def test_a_request_is_written_in_chunks_as_it_is_mapped_and_flows_through_a_small_queue(
        engine, monkeypatch):
    from evalboard.ingest import otlp_server

    monkeypatch.setattr(otlp_server, "MAP_CHUNK_ROWS", 2)
    real_write = store_writer(engine)
    written: list[int] = []

    def counting_write(rows):
        written.append(len(rows))
        return real_write(rows)

    spans = make_spans(*[LLM] * 9)
    options = {"max_queued_rows": 4}
    with running_receiver(engine, write=counting_write, writer_options=options) as server:
        status, _, body = post(server, protobuf_body(spans), PROTOBUF)
        assert post(server, protobuf_body(spans), PROTOBUF)[0] == 200  # a retry
    assert status == 200
    assert not ExportTraceServiceResponse.FromString(body).HasField("partial_success")
    assert sum(written) == 18 and len(written) > 2 and max(written) <= 4
    assert server.totals["stored"] == 9 and server.totals["already_stored"] == 9
    assert call_count(engine) == 9


def test_a_failing_store_is_503_so_the_exporter_retries(engine):
    def broken(rows):
        raise OSError("disk full")

    with running_receiver(engine, write=broken) as server:
        status, headers, _ = post(server, protobuf_body(make_spans(LLM)), PROTOBUF)
    assert status == 503 and "Retry-After" in headers
    assert call_count(engine) == 0


def test_queued_ack_stores_every_call_once_after_the_answer(engine):
    spans = make_spans(LLM, LLM, LLM)
    with running_receiver(engine, ack="queued") as server:
        assert export(server, spans) == SpanExportResult.SUCCESS
        assert export(server, spans) == SpanExportResult.SUCCESS  # a retry
    assert call_count(engine) == 3


def test_queued_ack_refuses_what_does_not_fit_with_503(engine):
    release = threading.Event()
    write = blocking_writer(release, store_writer(engine))
    with running_receiver(engine, ack="queued", write=write,
                          writer_options={"max_pending": 4}) as server:
        assert post(server, protobuf_body(make_spans(LLM, LLM, LLM)), PROTOBUF)[0] == 200
        refused = protobuf_body(make_spans(LLM, LLM))
        status, headers, _ = post(server, refused, PROTOBUF)
        assert status == 503 and int(headers["Retry-After"]) > 0
        release.set()
        assert when(lambda: call_count(engine) == 3)
        assert post(server, refused, PROTOBUF)[0] == 200
    assert call_count(engine) == 5


def test_queued_ack_keeps_calls_the_store_refuses_in_the_dead_letter_file(engine):
    from evalboard.client.connection import default_dead_letter

    def broken(rows):
        raise ValueError("refused")

    spans = make_spans(LLM, LLM)
    with running_receiver(engine, ack="queued", write=broken) as server:
        assert post(server, protobuf_body(spans), PROTOBUF)[0] == 200
    dead = default_dead_letter(engine)
    try:
        kept = [json.loads(line)["external_id"] for line in dead.read_text().splitlines()]
        assert sorted(kept) == sorted(f"{s.context.trace_id:032x}:{s.context.span_id:016x}"
                                      for s in spans)
    finally:
        dead.unlink(missing_ok=True)
