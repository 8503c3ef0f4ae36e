"""`evalboard db`: schema migrations, backups and copies between stores."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from tqdm import tqdm

from evalboard.cli.common import DbOption
from evalboard.config import DB_URL_ENV
from evalboard.store import migrate
from evalboard.store.backup import backup_sqlite
from evalboard.store.copy import copy_store
from evalboard.store.engine import make_engine

app = typer.Typer(help="Manage the store: schema, backups, copies.", no_args_is_help=True)


@app.command()
def upgrade(db: DbOption = None, revision: str = typer.Argument("head")) -> None:
    """Upgrade the store's schema (every command does this before first use)."""
    engine = make_engine(db)
    before = migrate.current_revision(engine)
    saved = migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    if before == after:
        typer.echo(f"already at {after}")
    else:
        typer.echo(f"upgraded {before or 'an empty store'} -> {after}"
                   + (f" (backup of {before}: {saved})" if saved else ""))


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


@app.command()
def backup(path: Annotated[Path, typer.Argument(help="The backup file to create.")],
           db: DbOption = None) -> None:
    """Back up a SQLite store to a new file, safely while others keep logging."""
    engine = make_engine(db)
    try:
        target = backup_sqlite(engine, path)
    finally:
        engine.dispose()
    size = target.stat().st_size / 1e6
    typer.echo(f"backed up {engine.url.database} to {target} ({size:.1f} MB)")


@app.command()
def copy(
    from_url: Annotated[str, typer.Option("--from", help="The store to copy.", show_default=False)],
    to_url: Annotated[str, typer.Option(
        "--to", help="The store to fill: a new SQLite file or an empty database.",
        show_default=False)],
    force: Annotated[bool, typer.Option("--force",
                                        help="Replace everything in a target that holds data.")]
    = False,
) -> None:
    """Copy every row of one store into another, ids included (e.g. SQLite -> PostgreSQL)."""
    bars: dict[str, tqdm] = {}

    def progress(table: str, done: int, total: int) -> None:
        bar = bars.get(table)
        if bar is None:
            bar = bars[table] = tqdm(total=total, desc=table, unit=" rows", disable=None,
                                     leave=False)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    summary = copy_store(from_url, to_url, progress, force=force)
    copied = ", ".join(f"{table} {rows:,}" for table, rows in summary.rows.items() if rows)
    typer.echo(f"copied {summary.total:,} rows in {summary.seconds:.1f} s ({copied or 'no rows'})")
    typer.echo(f"to use the copy, point {DB_URL_ENV} (or --db) at {_shown(to_url)}")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
