"""`evalboard review`: export review work (fine-tuning examples, annotations)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.review.exports import (
    ANNOTATION_FORMATS,
    annotation_format,
    export_annotations,
    export_sft,
)

app = typer.Typer(help="Export review work.", no_args_is_help=True)

ModelVersionOption = Annotated[
    list[str] | None,
    typer.Option(metavar="VERSION", help="Only calls of these model versions (repeatable)."),
]
SinceOption = Annotated[
    datetime | None, typer.Option(help="Only calls logged from this time (UTC).")
]
UntilOption = Annotated[
    datetime | None, typer.Option(help="Only calls logged before this time (UTC).")
]
ReviewerOption = Annotated[
    str | None, typer.Option(metavar="NAME", help="Only this reviewer's annotations.")
]


def _check_out(out: Path) -> None:
    if out.is_dir():
        fail(f"{out} is a folder; name the file to write")
    if not out.parent.is_dir():
        fail(f"the folder {out.parent} does not exist")


def _filters(
    model_version: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    reviewer: str | None,
) -> dict[str, Any]:
    return {
        "model_versions": tuple(model_version or ()),
        "since": since,
        "until": until,
        "reviewer": reviewer,
    }


@app.command("export-sft")
def export_sft_command(
    out: Annotated[Path, typer.Argument(metavar="OUT.jsonl", help="Where to write (JSONL).")],
    model_version: ModelVersionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    reviewer: ReviewerOption = None,
    include_passing: Annotated[
        bool,
        typer.Option(
            "--include-passing",
            help="Also export calls judged pass without a correction, with the model's own "
            "output (positive examples).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Export corrected outputs as chat fine-tuning examples (TRL / OpenAI messages format)."""
    if out.suffix.lower() != ".jsonl":
        fail(f"export-sft writes JSON lines: name the file *.jsonl, not {out.name}", 2)
    _check_out(out)
    engine = store(db)
    count = export_sft(
        engine,
        out,
        include_passing=include_passing,
        **_filters(model_version, since, until, reviewer),
    )
    typer.echo(f"wrote {count} examples to {out}")


@app.command("export-annotations")
def export_annotations_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write: .csv or .jsonl.")],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"{', '.join(ANNOTATION_FORMATS)} (default: by suffix)"),
    ] = None,
    all_history: Annotated[
        bool,
        typer.Option(
            "--all-history",
            help="Every annotation row (skips, retracts and replaced judgements too), "
            "not only current judgements.",
        ),
    ] = False,
    model_version: ModelVersionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
) -> None:
    """Export annotations as CSV or JSONL rows: current judgements, or the whole history."""
    _check_out(out)
    try:
        fmt = annotation_format(out, fmt)
    except ValueError as exc:
        fail(str(exc), 2)
    engine = store(db)
    count = export_annotations(
        engine,
        out,
        fmt,
        current_only=not all_history,
        **_filters(model_version, since, until, reviewer),
    )
    typer.echo(f"wrote {count} annotations to {out}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")
