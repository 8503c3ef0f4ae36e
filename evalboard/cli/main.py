"""Entry point: the typer app and one place that turns known errors into one-line messages."""

from __future__ import annotations

import logging
import sys

import typer
from sqlalchemy.exc import SQLAlchemyError

from evalboard.cli import (
    calls_commands,
    cases_commands,
    collect_command,
    db_commands,
    embed_command,
    gate_command,
    judge_command,
    monitor_command,
    pairing_command,
    proxy_command,
    review_commands,
    run_command,
    serve_command,
    users_commands,
)
from evalboard.cli.common import CLIError
from evalboard.config import RedactingFilter, redact_text, resolve_db_url
from evalboard.errors import EvalboardError

app = typer.Typer(
    name="evalboard",
    help="Log, review and test the outputs of your fine-tuned LLMs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(db_commands.app, name="db")
calls_commands.register(app)
serve_command.register(app)
embed_command.register(app)
review_commands.register(app)
cases_commands.register(app)
run_command.register(app)
users_commands.register(app)
gate_command.register(app)
proxy_command.register(app)
collect_command.register(app)
judge_command.register(app)
monitor_command.register(app)
pairing_command.register(app)

# User-facing errors print one line; anything else is a bug and keeps its traceback. A path
# the user named that cannot be read or written is the user's to fix too.
_USER_ERRORS = (EvalboardError, FileNotFoundError, PermissionError, IsADirectoryError,
                NotADirectoryError)
_URL_OPTIONS = ("--db", "--from", "--to")


def _store_urls(argv: list[str]) -> list[str]:
    """Every store URL of this invocation: the configured one and those given as options."""
    urls = [resolve_db_url()]
    for index, arg in enumerate(argv):
        name, equals, value = arg.partition("=")
        if name in _URL_OPTIONS:
            urls.append(value if equals else (argv[index + 1] if index + 1 < len(argv) else ""))
    return urls


def _echo_error(message: object) -> None:
    typer.echo(f"error: {redact_text(str(message), *_store_urls(sys.argv))}", err=True)


def main() -> None:
    """Run the CLI; known errors print one line on stderr instead of a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:  # no store password in any log line
        handler.addFilter(RedactingFilter(*_store_urls(sys.argv)))
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            sys.exit(code)
    except CLIError as exc:
        _echo_error(exc)
        sys.exit(exc.code)
    except _USER_ERRORS as exc:
        _echo_error(exc)
        sys.exit(1)
    except SQLAlchemyError as exc:
        reason = getattr(exc, "orig", None) or exc
        _echo_error(f"the store cannot be used: {str(reason).splitlines()[0]}")
        sys.exit(1)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        # Usage errors from typer's bundled click: they know how to show themselves.
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            sys.exit(exc.exit_code)
        if type(exc).__name__ == "Abort":
            sys.exit(1)
        raise
