"""`evalboard review`: export review work (fine-tuning examples, annotations, preference
data)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from evalboard.cli.common import DbOption, fail, store
from evalboard.exchange.preferences import (
    FORMATS,
    KTO_SOURCES,
    PreferenceExport,
    PreferenceFilter,
    export_preferences,
    file_type_of,
)
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
            help="Every annotation row (skips, retracts, replaced judgements and "
            "adjudications too), not only the final answers.",
        ),
    ] = False,
    model_version: ModelVersionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    reviewer: ReviewerOption = None,
    db: DbOption = None,
) -> None:
    """Export annotations as CSV or JSONL rows: final answers, or the whole history.

    Each row carries its scores: a `scores` object in JSONL, a `score:<name>` column per score
    configuration in CSV."""
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


@app.command("export-preferences")
def export_preferences_command(
    out: Annotated[Path, typer.Argument(metavar="OUT", help="Where to write: .jsonl or .parquet.")],
    fmt: Annotated[str, typer.Option(
        "--format", help="trl (prompt/chosen/rejected), openai (DPO fine-tuning) or kto "
        "(prompt/completion/label).")] = "trl",
    source: Annotated[list[str] | None, typer.Option(
        metavar="SOURCE", help="Where records come from, repeatable, in order: "
        f"{', '.join(KTO_SOURCES)} (verdicts: kto only). Default: corrections, pairwise, "
        "runs; kto: verdicts.")] = None,
    model_version: ModelVersionOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    label: Annotated[list[str] | None, typer.Option(
        metavar="LABEL", help="Only judgements carrying one of these labels (repeatable).")] = None,
    reviewer: Annotated[list[str] | None, typer.Option(
        metavar="NAME", help="Only these reviewers' judgements (repeatable).")] = None,
    plain_text: Annotated[bool, typer.Option(
        "--plain-text", help="TRL's standard form (prompt and answers as text), not chat "
        "messages; prompts without chat input only.")] = False,
    bare: Annotated[bool, typer.Option(
        "--bare", help="Only the format's own fields (no source, no metadata), for a reader "
        "that refuses other keys.")] = False,
    test_share: Annotated[float, typer.Option(
        help="Share of prompts for a test split (0: none); no prompt is in both.")] = 0.0,
    seed: Annotated[int, typer.Option(help="Seed of the train/test split.")] = 0,
    test_out: Annotated[Path | None, typer.Option(
        help="Where the test split goes (default: OUT's name with -test).")] = None,
    db: DbOption = None,
) -> None:
    """Export preference pairs (TRL, OpenAI DPO) or unpaired examples (KTO) for the next
    fine-tune, from corrections, pairwise answers, eval runs and verdicts."""
    _check_out(out)
    try:
        file_type_of(out)
    except ValueError as exc:
        fail(str(exc), 2)
    if fmt not in FORMATS:
        fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", 2)
    spec = PreferenceExport(
        fmt=fmt, sources=tuple(source or ()), plain_text=plain_text, test_share=test_share,
        seed=seed, bare=bare, filter=PreferenceFilter(
            model_versions=tuple(model_version or ()), since=since, until=until,
            labels=tuple(label or ()), reviewers=tuple(reviewer or ())))
    summary = export_preferences(store(db), out, spec, test_path=test_out)
    typer.echo(f"{out}: {summary.line()}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="review")
