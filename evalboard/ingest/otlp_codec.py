"""OTLP/HTTP bodies: decode an export request (protobuf or JSON, gzip or not) and encode the
answer in the request's own content type."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
CONTENT_TYPES = (PROTOBUF, JSON)
_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


class BadRequest(ValueError):
    """A body that is not an OTLP export request; the message says why, in one line."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """The body without its Content-Encoding (gzip, deflate or none), at most `limit` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    try:
        plain = inflater.decompress(body, limit + 1)
    except (zlib.error, gzip.BadGzipFile) as error:
        raise BadRequest(f"body is not valid {encoding}: {error}") from None
    if len(plain) > limit:
        raise BadRequest(f"decompressed body is larger than {limit:,} bytes")
    return plain


def _hex_ids_to_base64(node: Any) -> None:
    """OTLP JSON writes trace and span ids as hex, where protobuf JSON expects base64."""
    if isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _ID_FIELDS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise BadRequest(f"{key} {value[:40]!r} is not hex") from None
            else:
                _hex_ids_to_base64(value)


def decode_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except (DecodeError, RuntimeError, ValueError) as error:
            raise BadRequest(f"body is not an OTLP protobuf export request: {error}") from None
        return request
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BadRequest(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise BadRequest("body is not an OTLP JSON export request (expected an object)")
    _hex_ids_to_base64(document)
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as error:
        raise BadRequest(f"body is not an OTLP JSON export request: {error}") from None
    return request


def _encode(message: Message, content_type: str) -> bytes:
    if content_type == PROTOBUF:
        return message.SerializeToString()
    return json_format.MessageToJson(message, indent=None).encode()


def encode_response(content_type: str, rejected: int = 0, error_message: str = "") -> bytes:
    """ExportTraceServiceResponse, with partial_success when spans were rejected."""
    response = ExportTraceServiceResponse()
    if rejected or error_message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = error_message
    return _encode(response, content_type)


def encode_status(content_type: str, message: str, code: int) -> bytes:
    """A google.rpc.Status error body (what OTLP/HTTP answers with on a failure)."""
    return _encode(status_pb2.Status(code=code, message=message), content_type)
