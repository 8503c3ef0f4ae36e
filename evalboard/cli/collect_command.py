"""`evalboard collect`: receive OpenTelemetry traces (OTLP/HTTP) and store LLM spans as calls."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlalchemy import Engine

from evalboard.cli.common import DbOption, fail, store
from evalboard.store.models import SOURCES

if TYPE_CHECKING:
    from evalboard.ingest.otlp_server import OtlpServer

ACKS = ("stored", "queued", "spooled")


def bound_receiver(engine: Engine, host: str, port: int, **options: Any) -> OtlpServer:
    """The OTLP receiver bound to host:port (`open_receiver`), or one line saying why not: the
    address is taken, or opentelemetry-proto is not installed."""
    try:
        from evalboard.ingest.otlp_service import ReceiverError, open_receiver
    except ImportError as error:
        fail(f"the OTLP receiver needs opentelemetry-proto ({error.name} is missing): "
             "pip install opentelemetry-proto")
    try:
        return open_receiver(engine, host, port, **options)
    except ReceiverError as error:
        fail(str(error))


def collect_command(
    host: Annotated[str, typer.Option(help="Address to bind; keep 127.0.0.1 unless the "
                                           "receiver is behind an authenticating proxy.")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (4318 is OTLP/HTTP's).")] = 4318,
    model_version_from: Annotated[
        str,
        typer.Option(help="Span or resource attribute that names the model version, e.g. "
                          "gen_ai.request.model or service.version; 'model' (the default) "
                          "is the span's model (response, else request model)."),
    ] = "model",
    ack: Annotated[
        str,
        typer.Option(help="When to answer an export: 'stored' (once its calls are written: "
                          "a 200 means stored), 'spooled' (once they are queued and fsynced "
                          "to a spool file beside the store, written at the next start if the "
                          "receiver dies: as safe, and faster for one exporter) or 'queued' "
                          "(once they are queued in memory; calls the store refuses go to a "
                          "dead-letter file)."),
    ] = "stored",
    source: Annotated[str, typer.Option(help=f"Source of the calls ({', '.join(SOURCES)}).")]
    = "production",
    db: DbOption = None,
) -> None:
    """Receive OTLP/HTTP traces on POST /v1/traces and log their LLM spans as calls."""
    if ack not in ACKS:
        fail(f"--ack must be one of {', '.join(ACKS)}, got {ack!r}", 2)
    if source not in SOURCES:
        fail(f"--source must be one of {', '.join(SOURCES)}, got {source!r}", 2)
    engine = store(db)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = bound_receiver(engine, host, port, ack=ack, source=source,
                            model_version_from=model_version_from)
    typer.echo(f"evalboard collect: OTLP/HTTP on http://{host}:{server.port}/v1/traces "
               "(Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.writer.close()
        typer.echo(f"stopped: {server.totals}")


def register(app: typer.Typer) -> None:
    app.command("collect")(collect_command)
