"""`evalboard db`: schema migrations, backups, copies between stores and retention."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from tqdm import tqdm

from evalboard import clock
from evalboard.cli.common import DbOption, fail, store
from evalboard.config import DB_URL_ENV
from evalboard.store import migrate
from evalboard.store.backup import backup_sqlite
from evalboard.store.copy import copy_store
from evalboard.store.engine import make_engine
from evalboard.store.partitions import PartitionError, PartitionReport, partition_calls_by_month
from evalboard.store.prune import PruneOptions, PruneReport, parse_age, prune_calls

app = typer.Typer(help="Manage the store: schema, backups, copies, retention.",
                  no_args_is_help=True)


@app.command()
def upgrade(
    db: DbOption = None,
    revision: str = typer.Argument("head"),
    partition_by_month: Annotated[bool, typer.Option(
        "--partition-by-month",
        help="PostgreSQL: then partition the calls by month, so a prune drops whole months "
             "(once; readers and writers wait meanwhile, about a minute per million calls).")]
    = False,
) -> None:
    """Upgrade the store's schema (every command does this before first use)."""
    engine = make_engine(db)
    try:
        if partition_by_month and engine.dialect.name != "postgresql":
            fail("--partition-by-month needs PostgreSQL; a SQLite store prunes in batches "
                 "and its file shrinks (nothing was changed)")
        before = migrate.current_revision(engine)
        saved = migrate.upgrade(engine, revision)
        after = migrate.current_revision(engine)
        if before == after:
            typer.echo(f"already at {after}")
        else:
            typer.echo(f"upgraded {before or 'an empty store'} -> {after}"
                       + (f" (backup of {before}: {saved})" if saved else ""))
        if partition_by_month:
            try:
                report = partition_calls_by_month(engine, clock.now())
            except PartitionError as exc:
                fail(str(exc))
            typer.echo(partition_line(report))
    finally:
        engine.dispose()


def partition_line(report: PartitionReport) -> str:
    """What a conversion to monthly partitions did, in one line."""
    months = report.months
    span = f"{months[0]} .. {months[-1]}" if len(months) > 1 else months[0]
    return (f"partitioned {report.calls:,} calls by month in {report.seconds:.1f} s: "
            f"{len(months)} month partitions ({span}) and calls_default; "
            f"{len(report.foreign_keys_dropped)} foreign keys to calls replaced by a trigger "
            "that does what they did when a call is deleted")


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


@app.command()
def prune(
    older_than: Annotated[str, typer.Option(
        "--older-than", help="Delete calls older than this: 90d, 12w or 36h.",
        show_default=False)],
    keep_reviewed: Annotated[bool, typer.Option(
        help="Keep calls a reviewer annotated, queued or compared.")] = True,
    keep_cases: Annotated[bool, typer.Option(
        help="Keep calls a test case came from (else the case forgets its origin).")] = True,
    keep_runs: Annotated[bool, typer.Option(
        help="Keep calls a run produced (else the result forgets its call).")] = True,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would go; change nothing.")] = False,
    archive: Annotated[Path | None, typer.Option(
        "--archive", help="Write every removed row to Parquet files in this folder first.",
        show_default=False)] = None,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="SQLite: VACUUM once into incremental auto-vacuum mode, so the file "
                         "shrinks now and after every later prune (writers wait meanwhile).")]
    = False,
    db: DbOption = None,
) -> None:
    """Delete old calls in short batches; daily rollups (charts over time) stay whole."""
    options = PruneOptions(parse_age(older_than), keep_reviewed=keep_reviewed,
                           keep_cases=keep_cases, keep_runs=keep_runs, dry_run=dry_run,
                           archive=archive, vacuum=vacuum)
    engine = store(db)
    try:
        report = prune_calls(engine, options)
    finally:
        engine.dispose()
    for line in prune_lines(report):
        typer.echo(line)


def prune_lines(report: PruneReport) -> list[str]:
    """A prune's report as the lines the command prints."""
    verb = "would remove" if report.dry_run else "removed"
    removed = ", ".join(f"{table} {rows:,}" for table, rows in report.removed.items())
    lines = [f"{verb} calls created before {report.cutoff:%Y-%m-%d %H:%M} UTC: "
             f"{removed or 'nothing'}"]
    if report.unlinked:
        lines.append("links cleared: " + ", ".join(
            f"{table} {rows:,}" for table, rows in report.unlinked.items()))
    lines.append(f"kept {report.kept_calls:,} older calls that are reviewed, cases or run "
                 "results")
    if report.bytes_freed is not None:
        lines.append(f"freed {report.bytes_freed / 1e6:,.1f} MB"
                     + (f" ({report.space_note})" if report.space_note else ""))
    elif report.space_note:
        lines.append(report.space_note)
    if report.dropped_months:
        verb_months = "would drop" if report.dry_run else "dropped"
        lines.append(f"{verb_months} {len(report.dropped_months)} month partition(s): "
                     + ", ".join(report.dropped_months))
    if report.archive_files:
        lines.append(f"archived to {len(report.archive_files)} Parquet file(s) under "
                     f"{report.archive_files[0].parent.parent}")
    return lines


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
