"""The OTLP receiver as a service: bound in one step (a port in use is one readable error),
served from a thread beside something else (`evalboard serve --collect`), stopped with what
it holds written."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from evalboard.errors import EvalboardError
from evalboard.ingest.otlp_server import TRACES_PATH, OtlpServer
from evalboard.ingest.otlp_writer import make_writer

log = logging.getLogger(__name__)


class ReceiverError(EvalboardError, RuntimeError):
    """The receiver cannot listen where it was asked to, or stopped serving."""


def open_receiver(engine: Engine, host: str, port: int, *, ack: str = "stored",
                  **options: Any) -> OtlpServer:
    """A receiver bound to host:port (not serving yet), writing into `engine` with `ack`
    semantics; ReceiverError when the address cannot be bound (its writer is closed then)."""
    writer = make_writer(engine, ack)
    try:
        return OtlpServer(writer, host, port, **options)
    except OSError as error:
        writer.close()
        raise ReceiverError(f"the OTLP receiver cannot listen on {host}:{port}: "
                            f"{error.strerror or error}") from None


def receiver_url(server: OtlpServer) -> str:
    host = server.server_address[0]
    return f"http://{host}:{server.port}{TRACES_PATH}"


class BackgroundReceiver:
    """Serves a bound receiver from a daemon thread. If serving ever stops with an error, the
    error is logged with its traceback, kept in `failure` and handed to `on_failure`."""

    def __init__(self, server: OtlpServer,
                 on_failure: Callable[[BaseException], object] | None = None) -> None:
        self.server = server
        self.failure: BaseException | None = None
        self._on_failure = on_failure
        self._thread = threading.Thread(target=self._serve, name="evalboard-otlp", daemon=True)
        self._stopped = False

    def start(self) -> BackgroundReceiver:
        self._thread.start()
        return self

    def _serve(self) -> None:
        try:
            self.server.serve_forever()
        except BaseException as error:  # noqa: BLE001 - reported, never a silent stop
            self.failure = error
            log.exception("the OTLP receiver stopped serving")
            if self._on_failure is not None:
                self._on_failure(error)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, write what was received, free the port (within about `timeout`);
        once only (later calls do nothing)."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread.is_alive():
            self.server.shutdown()  # returns once serve_forever has left its loop
        self._thread.join(timeout)
        self.server.server_close()
        self.server.writer.close()
        log.info("OTLP receiver stopped: %s", self.server.totals)
