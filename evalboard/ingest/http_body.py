"""A request body as the client framed it: Content-Length or chunked, read with a size limit.

Shared by the OTLP receiver and the proxy (both on `http.server`, which reads neither).
"""

from __future__ import annotations

from email.message import Message
from typing import BinaryIO


class BodyError(ValueError):
    """The body's framing is unusable; `status` is the HTTP answer (400 malformed, 413 too
    large). Where the next request starts is unknown then: close the connection."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def read_body(headers: Message, stream: BinaryIO, limit: int | None = None) -> bytes | None:
    """The body (chunked or Content-Length), or None when the request frames none (no
    Content-Length, not chunked); BodyError when the framing is malformed or the body is
    longer than `limit` bytes (a Content-Length over it is refused before reading)."""
    if "chunked" in (headers.get("Transfer-Encoding") or "").lower():
        return _read_chunked(stream, limit)
    raw = headers.get("Content-Length")
    if raw is None:
        return None
    try:
        length = int(raw)
    except ValueError:
        raise BodyError(400, f"Content-Length {raw[:40]!r} is not a number") from None
    if length < 0:
        raise BodyError(400, f"Content-Length {length} is negative")
    if limit is not None and length > limit:
        raise BodyError(413, f"body larger than {limit:,} bytes")
    body = stream.read(length) if length else b""
    if len(body) < length:
        raise BodyError(400, f"body ended after {len(body):,} of {length:,} bytes")
    return body


def _read_chunked(stream: BinaryIO, limit: int | None) -> bytes:
    pieces: list[bytes] = []
    total = 0
    while True:
        line = stream.readline(1024)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BodyError(400, f"malformed chunk size {line[:40]!r}") from None
        if size < 0:
            raise BodyError(400, f"malformed chunk size {line[:40]!r}")
        if size == 0:
            while stream.readline(1024) not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(pieces)
        total += size
        if limit is not None and total > limit:
            raise BodyError(413, f"body larger than {limit:,} bytes")
        piece = stream.read(size)
        if len(piece) < size or stream.readline(1024) not in (b"\r\n", b"\n"):
            raise BodyError(400, "a chunk ended early or without its line end")
        pieces.append(piece)
