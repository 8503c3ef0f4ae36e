"""`evalboard pairing`: how many inputs each pair of model versions shares (pairwise review)."""

from __future__ import annotations

from typing import Annotated

import typer

from evalboard.cli.common import DbOption, store


def pairing_command(
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Only calls of this source (production, eval, import); "
                     "repeat for several."),
    ] = None,
    db: DbOption = None,
) -> None:
    """List every pair of model versions that answered the same inputs, most shared first."""
    from evalboard.pairwise.pairing import pairing_report

    report = pairing_report(store(db), tuple(source or ()))
    if not report:
        typer.echo("no two model versions answered the same input")
        return
    width = max(len(p.version_a) for p in report)
    for pair in report:
        typer.echo(f"{pair.version_a:<{width}}  {pair.version_b}  {pair.shared_inputs:,}")


def register(app: typer.Typer) -> None:
    app.command("pairing")(pairing_command)
