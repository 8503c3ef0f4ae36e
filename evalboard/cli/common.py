"""Options and error handling shared by every command."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine

from evalboard.config import DB_URL_ENV
from evalboard.store import open_store

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help=f"Store URL (default: ${DB_URL_ENV}, else sqlite:///evalboard.db).",
        show_default=False,
    ),
]


class CLIError(Exception):
    """An error the user can fix; printed as one line, exit code `code`."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise CLIError(message, code)


def store(db: str | None) -> Engine:
    """Open (and upgrade) the store for a command."""
    return open_store(db)
