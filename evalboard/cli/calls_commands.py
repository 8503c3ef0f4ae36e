"""`evalboard import`, `export` and `demo`: calls in and out of the store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from evalboard.cli.common import DbOption, fail, store
from evalboard.exchange.exporting import EXPORT_FORMATS, export_calls
from evalboard.exchange.importing import import_file, parse_mapping
from evalboard.exchange.readers import FORMATS
from evalboard.store.calls_query import CallFilter
from evalboard.store.models import SOURCES

SHOWN_PROBLEMS = 20


def import_command(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="A .jsonl, .json, .csv or .parquet file.")
    ],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="FIELD=SOURCE",
            help="FIELD=SOURCE, repeatable; SOURCE may be a dotted path, "
            "e.g. --map input=instruction --map output=response.text",
        ),
    ] = None,
    model_version: Annotated[
        str | None, typer.Option(help="Model version for rows that name none.")
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            help=f"One of {', '.join(SOURCES)} for every row (default: a row's own "
            "valid 'source', else import)."
        ),
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help=f"{', '.join(FORMATS)} (default: by suffix)")
    ] = None,
    on_error: Annotated[
        str,
        typer.Option(
            help="skip: import every good row; abort: import nothing on a problem (every batch "
            "is tried in a rolled-back transaction first)."
        ),
    ] = "skip",
    db: DbOption = None,
) -> None:
    """Import calls logged by another tool. Importing the same file again adds nothing."""
    if on_error not in ("skip", "abort"):
        fail(f"--on-error must be skip or abort, got {on_error!r}", 2)
    if source is not None and source not in SOURCES:
        fail(f"--source must be one of {', '.join(SOURCES)}, got {source!r}", 2)
    mapping = parse_mapping(map_ or [])
    engine = store(db)
    with tqdm(unit=" rows", desc=f"importing {file.name}", disable=None) as bar:
        summary = import_file(
            engine,
            file,
            mapping=mapping,
            model_version=model_version,
            source=source,
            fmt=fmt,
            on_error=on_error,  # type: ignore[arg-type]
            progress=bar.update,
        )
    for problem in summary.problems[:SHOWN_PROBLEMS]:
        typer.echo(f"{file.name}: {problem}", err=True)
    if summary.skipped > SHOWN_PROBLEMS:
        typer.echo(f"... and {summary.skipped - SHOWN_PROBLEMS} more problems", err=True)
    if summary.aborted:
        fail(
            f"aborted: {summary.skipped} row(s) with problems, nothing imported "
            "(use --on-error skip to import the good rows)"
        )
    typer.echo(
        f"imported {summary.imported}, skipped {summary.skipped}, "
        f"already present {summary.already_present}"
    )


def export_command(
    out: Annotated[
        Path, typer.Argument(metavar="OUT", help="Where to write: .jsonl, .csv or .parquet.")
    ],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"{', '.join(EXPORT_FORMATS)} (default: by suffix)"),
    ] = None,
    model_version: Annotated[
        list[str] | None,
        typer.Option(metavar="VERSION", help="Only these model versions (repeatable)."),
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option(metavar="SOURCE", help="Only these sources (repeatable).")
    ] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time (UTC).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time (UTC).")] = None,
    search: Annotated[
        str, typer.Option(help="Only calls whose input or output has these words.")
    ] = "",
    db: DbOption = None,
) -> None:
    """Export calls (all, or a filter) as JSONL, CSV or Parquet."""
    if not out.parent.is_dir():
        fail(f"the folder {out.parent} does not exist")
    engine = store(db)
    f = CallFilter(
        model_versions=tuple(model_version or ()),
        sources=tuple(source or ()),
        since=since,
        until=until,
        search=search,
    )
    count = export_calls(engine, out, fmt, f)
    typer.echo(f"exported {count} calls to {out}")


def demo_command(
    calls: Annotated[int, typer.Option(min=1, help="How many calls to generate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Same seed, same data.")] = 0,
    db: DbOption = None,
) -> None:
    """Fill the store with a realistic synthetic history to explore evalboard."""
    from evalboard.demo.builder import load_demo

    engine = store(db)
    with tqdm(total=calls, unit=" calls", desc="demo", disable=None) as bar:
        summary = load_demo(
            engine, calls=calls, seed=seed, progress=lambda done, total: bar.update(done - bar.n)
        )
    typer.echo(
        f"demo: {summary.inserted} calls added ({summary.already_present} already present)"
        f" across {len(summary.model_versions)} model versions"
    )


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("export")(export_command)
    app.command("demo")(demo_command)
