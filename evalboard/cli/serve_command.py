"""`evalboard serve`: start the dashboard."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.config import DB_URL_ENV

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
) -> None:
    """Start the evalboard dashboard (Streamlit) on the store."""
    from evalboard.monitors.worker import background_monitors

    if not APP_FILE.exists():
        fail(f"cannot find the app at {APP_FILE}")
    engine = store(db)  # fail early, with a clear message, on a bad store URL
    env = dict(os.environ)
    if db:
        env[DB_URL_ENV] = db
    with background_monitors(engine if monitors else None):
        code = subprocess.call(streamlit_command(port, host), env=env)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
