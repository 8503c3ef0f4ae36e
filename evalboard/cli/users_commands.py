"""`evalboard users add|list|disable`: accounts for the optional access control."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from evalboard.access.permissions import ROLES, AccessError, add_user, disable_user, list_users
from evalboard.cli.common import DbOption, fail, store

app = typer.Typer(help="Accounts for access control (EVALBOARD_AUTH=local or oidc).",
                  no_args_is_help=True)


@app.command("add")
def add(
    username: Annotated[str, typer.Argument(metavar="NAME", help="A login name or an e-mail.")],
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")] = "reviewer",
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")
                              ] = False,
    no_password: Annotated[bool, typer.Option(help="An identity-provider (OIDC) user: only "
                                              "the role is stored.")] = False,
    adjudicate: Annotated[bool | None, typer.Option(
        "--adjudicate/--no-adjudicate",
        help="Let a reviewer record final answers where reviewers disagree (admins always "
             "may). Unchanged when not given.")] = None,
    db: DbOption = None,
) -> None:
    """Create an account (or change its role, password and right to adjudicate)."""
    password: str | None = None
    if not no_password:
        password = sys.stdin.readline().rstrip("\n") if password_stdin else typer.prompt(
            "Password", hide_input=True, confirmation_prompt=True)
    try:
        add_user(store(db), username, password, role, can_adjudicate=adjudicate)
    except AccessError as exc:
        fail(str(exc), 2)
    typer.echo(f"{username}: {role}" + (" (may adjudicate)" if adjudicate else ""))


@app.command("list")
def list_command(db: DbOption = None) -> None:
    """List accounts with their roles."""
    for username, role, disabled in list_users(store(db)):
        state = "\t(disabled)" if disabled else ""
        typer.echo(f"{username}\t{role}{state}")


@app.command("disable")
def disable(username: Annotated[str, typer.Argument(metavar="NAME")], db: DbOption = None
            ) -> None:
    """Stop an account from signing in (its annotations keep its name)."""
    if not disable_user(store(db), username):
        fail(f"no user named {username!r}", 2)
    typer.echo(f"{username}: disabled")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="users")
