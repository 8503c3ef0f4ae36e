"""`evalboard embed`: compute sentence embeddings for the calls that have none yet."""

from __future__ import annotations

from typing import Annotated

import typer
from tqdm import tqdm

from evalboard.cli.common import DbOption, fail, store


def embed_command(
    batch_size: Annotated[
        int, typer.Option(min=1, help="Calls embedded and written per transaction.")
    ] = 64,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Embed at most this many calls, then stop.")
    ] = None,
    db: DbOption = None,
) -> None:
    """Embed calls for "find similar calls". Safe to stop and run again: it resumes."""
    from evalboard.similarity.embeddings import (
        EmbedderUnavailableError,
        count_missing,
        embed_missing,
        get_embedder,
    )
    from evalboard.store.calls_counts import count_calls

    engine = store(db)
    missing = count_missing(engine)
    already = count_calls(engine) - missing
    todo = missing if limit is None else min(missing, limit)
    embedded = 0
    if todo:
        try:
            embedder = get_embedder()
        except EmbedderUnavailableError as exc:
            fail(str(exc))
        with tqdm(total=todo, unit=" calls", desc="embedding", disable=None) as bar:
            embedded = embed_missing(
                engine, batch_size=batch_size, progress=bar.update, limit=limit, embedder=embedder
            )
    typer.echo(f"embedded {embedded} calls; {already} already had embeddings")


def register(app: typer.Typer) -> None:
    app.command("embed")(embed_command)
