"""`evalboard db`: schema migrations."""

from __future__ import annotations

import typer

from evalboard.cli.common import DbOption
from evalboard.store import migrate
from evalboard.store.engine import make_engine

app = typer.Typer(help="Manage the store's schema.", no_args_is_help=True)


@app.command()
def upgrade(db: DbOption = None, revision: str = typer.Argument("head")) -> None:
    """Upgrade the store's schema (every command does this before first use)."""
    engine = make_engine(db)
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    if before == after:
        typer.echo(f"already at {after}")
    else:
        typer.echo(f"upgraded {before or 'an empty store'} -> {after}")


@app.command()
def current(db: DbOption = None) -> None:
    """Print the store's schema revision."""
    engine = make_engine(db)
    revision = migrate.current_revision(engine)
    head = migrate.head_revision()
    if revision is None:
        typer.echo(f"empty store (head is {head})")
    else:
        typer.echo(f"{revision}{' (head)' if revision == head else f' (head is {head})'}")


@app.command()
def history() -> None:
    """List the schema revisions, oldest first."""
    for revision, down, message in migrate.history():
        typer.echo(f"{down or '<base>'} -> {revision}  {message.splitlines()[0]}")
