"""`evalboard proxy`: an OpenAI-compatible logging proxy in front of a model server."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated, Any

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.config import resolve_db_url

STOP_GRACE_S = 30.0  # how long a stop waits for requests in flight (a stream may be long)


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def proxy_command(
    upstream: Annotated[str, typer.Option(
        help="Base URL of the OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1.")],
    model_version: Annotated[str, typer.Option(
        help="Model version the calls are logged under (the request's model goes to "
             "metadata).")],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
    tokenizer: Annotated[Path | None, typer.Option(
        exists=True, dir_okay=False,
        help="A tokenizer.json to count tokens the upstream reports no usage for (default: "
             "estimate 1 token per 4 characters).")] = None,
    timeout: Annotated[float, typer.Option(
        min=1, help="Seconds to wait for the upstream to connect or send more.")] = 600.0,
    db: DbOption = None,
) -> None:
    """Forward /v1/chat/completions, /v1/completions, /v1/models (and any other path) to the
    upstream, streaming included, and log every completion as a call."""
    from evalboard.client.connection import Evalboard
    from evalboard.ingest.proxy_logging import TokenCounter
    from evalboard.ingest.proxy_server import make_proxy

    store(db).dispose()  # fail early, with a clear message, on a bad or in-memory store URL
    try:
        counter = TokenCounter(tokenizer)
    except Exception as exc:  # noqa: BLE001 - the tokenizers package's own error types
        fail(f"cannot read the tokenizer {tokenizer}: {exc}")
    calls = Evalboard(resolve_db_url(db), model_version=model_version, handle_signals=False)
    try:
        try:
            server = make_proxy(upstream, calls, host=host, port=port, timeout=timeout,
                                counter=counter)
        except ValueError as exc:
            fail(str(exc), 2)
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror or exc}")
        signal.signal(signal.SIGTERM, _stop)
        typer.echo(f"evalboard proxy on {server.url} -> {upstream}, logging as {model_version} "
                   "(Ctrl-C to stop)")
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            typer.echo("stopping: finishing the requests in flight, writing the calls queued",
                       err=True)
        finally:
            left = server.drain(STOP_GRACE_S)
            server.server_close()
            if left:
                typer.echo(f"{left} request(s) still in flight after {STOP_GRACE_S:g} s are "
                           "cut off and not logged", err=True)
    finally:
        calls.close()


def register(app: typer.Typer) -> None:
    app.command("proxy")(proxy_command)
