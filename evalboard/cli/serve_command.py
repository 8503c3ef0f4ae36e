"""`evalboard serve`: start the dashboard (and, on request, the monitor worker and the OTLP
receiver beside it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evalboard.cli.collect_command import bound_receiver
from evalboard.cli.common import DbOption, fail, store
from evalboard.config import DB_URL_ENV

if TYPE_CHECKING:
    from evalboard.ingest.otlp_server import OtlpServer
    from evalboard.ingest.otlp_service import BackgroundReceiver

APP_FILE = Path(__file__).resolve().parents[1] / "app" / "entry.py"

# What a checkout's .streamlit/config.toml gives `streamlit run app.py`, passed as flags: a wheel's
# user has no .streamlit/ folder where they run `evalboard serve` (tests/test_wheel.py checks the
# two agree).
STREAMLIT_SETTINGS: dict[str, str] = {
    "server.headless": "true",
    "browser.gatherUsageStats": "false",
    "client.showErrorDetails": "none",
    "client.toolbarMode": "minimal",
    "theme.base": "light",
    "theme.primaryColor": "#3b5bdb",
}


def streamlit_command(port: int, host: str) -> list[str]:
    """The `streamlit run` command line that serves the packaged entry on host:port."""
    settings = {**STREAMLIT_SETTINGS, "server.port": str(port), "server.address": host}
    flags = [part for key, value in settings.items() for part in (f"--{key}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(APP_FILE), *flags]


class _Stopped(Exception):
    """SIGTERM or SIGINT reached `evalboard serve` (or the receiver beside it failed)."""


@contextmanager
def _stop_on_signals() -> Iterator[threading.Event]:
    """While the block runs, the first SIGTERM or SIGINT raises _Stopped in the main thread
    (subprocess.call then ends the dashboard's process, and the services beside it stop);
    later ones, and any once the yielded event is set (cleanup has begun), are ignored, so they
    cannot cut that cleanup short. The handlers before are restored afterwards. Off the main
    thread: no handlers."""
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stopping
        return

    def stop(signum: int, _frame: Any) -> None:
        if not stopping.is_set():
            stopping.set()
            raise _Stopped(signal.Signals(signum).name)

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM,
                                                                     signal.SIGINT)}
    try:
        yield stopping
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _stop_main(_error: BaseException) -> None:
    """What a failing receiver does: stop `evalboard serve` as SIGTERM does (a signal to the
    main thread, which interrupts its wait for the dashboard's process)."""
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signal.SIGTERM)


def _receiver_beside(server: OtlpServer | None) -> BackgroundReceiver | None:
    """The receiver to serve beside the dashboard (none without --collect: then
    opentelemetry-proto is not imported at all)."""
    if server is None:
        return None
    from evalboard.ingest.otlp_service import BackgroundReceiver, receiver_url

    typer.echo(f"evalboard serve: receiving OTLP traces on {receiver_url(server)}")
    return BackgroundReceiver(server, on_failure=_stop_main)


def serve_command(
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8501,
    host: Annotated[
        str,
        typer.Option(
            help="Address to bind; keep 127.0.0.1 unless the server "
            "is behind an authenticating proxy."
        ),
    ] = "127.0.0.1",
    db: DbOption = None,
    monitors: Annotated[bool, typer.Option(
        "--monitors", help="Also run the monitor worker (`evalboard monitor`) in the "
        "background.")] = False,
    collect: Annotated[bool, typer.Option(
        "--collect", help="Also receive OpenTelemetry traces (OTLP/HTTP, as `evalboard "
        "collect`) on --host:--collect-port.")] = False,
    collect_port: Annotated[int, typer.Option(
        help="Port of the OTLP receiver with --collect (4318 is OTLP/HTTP's).")] = 4318,
) -> None:
    """Start the evalboard dashboard (Streamlit) on the store."""
    from evalboard.monitors.worker import background_monitors

    if not APP_FILE.exists():
        fail(f"cannot find the app at {APP_FILE}")
    engine = store(db)  # fail early, with a clear message, on a bad store URL
    env = dict(os.environ)
    if db:
        env[DB_URL_ENV] = db
    receiver = _receiver_beside(bound_receiver(engine, host, collect_port) if collect else None)
    code = 0
    with _stop_on_signals() as stopping:
        try:
            with background_monitors(engine if monitors else None):
                if receiver is not None:
                    receiver.start()
                code = subprocess.call(streamlit_command(port, host), env=env)
                stopping.set()  # the dashboard is done: a signal now cannot cut the cleanup
        except _Stopped:
            code = 0
        finally:
            stopping.set()
            if receiver is not None:
                receiver.stop()
    if receiver is not None and receiver.failure is not None:
        fail(f"the OTLP receiver stopped ({type(receiver.failure).__name__}: "
             f"{receiver.failure}); the dashboard was stopped with it")
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
