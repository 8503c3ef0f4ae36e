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

APP_FILE = Path(__file__).resolve().parents[2] / "app.py"


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
) -> None:
    """Start the evalboard dashboard (Streamlit) on the store."""
    if not APP_FILE.exists():
        fail(f"cannot find the app at {APP_FILE}")
    store(db)  # fail early, with a clear message, on a bad store URL
    env = dict(os.environ)
    if db:
        env[DB_URL_ENV] = db
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_FILE),
        "--server.port",
        str(port),
        "--server.address",
        host,
        "--browser.gatherUsageStats",
        "false",
    ]
    raise typer.Exit(subprocess.call(command, env=env))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
