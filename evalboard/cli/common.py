"""Options and error handling shared by every command."""

from __future__ import annotations

from typing import Annotated, NoReturn

import typer
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from evalboard.config import DB_URL_ENV, DEFAULT_DB_URL, resolve_db_url
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


def is_throwaway_sqlite(url: str) -> bool:
    """True for a SQLite URL without a file (`sqlite://`, `sqlite:///`, `:memory:`,
    `mode=memory`): such a store vanishes when the process that opened it exits."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):  # a bad port raises ValueError
        return False  # open_store reports a malformed URL
    if parsed.get_backend_name() != "sqlite":
        return False
    database = parsed.database or ""
    return (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )


def store(db: str | None) -> Engine:
    """Open (and upgrade) the store for a command; refuse a store that would not outlive it."""
    url = resolve_db_url(db)
    if is_throwaway_sqlite(url):
        fail(
            f"{url} is an in-memory SQLite store: whatever this command writes would vanish "
            f"when it exits; give a file, e.g. --db {DEFAULT_DB_URL}",
            2,
        )
    return open_store(url)
